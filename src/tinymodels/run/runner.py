"""Run the builder over many model types: workers, timeouts, fingerprints, atomic output, reports.

How a run goes:

1. Lock the output directory (one writer at a time), remove stale ``.staging-*`` and
   ``.old-*`` folders left by an interrupted run (`tinymodels.run.output`).
2. Compute each requested type's fingerprint (`tinymodels.run.fingerprint`; config classes
   only, nothing is built) and compare it with the stamp in
   ``{output}/{model_type}/.tinymodels.json``. Matching types are *up to date*: their
   stored entries go into the creation report and they are not rebuilt (``--force``
   rebuilds them). Types that failed by crash or timeout leave no stamp, so a re-run
   retries them.
3. Build the others. ``--num-workers N >= 1``: N long-lived `spawn` worker processes
   (`tinymodels.run.workers`), even for N=1, so a segfault, OOM kill or hang in one model
   type is reported as that type's failure (category ``crash``/``timeout``, per-type
   ``--timeout``) and the run goes on with a fresh worker. ``--num-workers 0`` builds
   in this process, without isolation or timeouts (for debuggers and profilers).
   When stamps alone show there is work (a requested type has no stamp, ``--force``, a
   first ``--all``), `early_workers` starts the workers before step 2, even before the
   types are resolved: their torch/transformers import overlaps this process's.
4. Each type is built into ``{output}/.staging-<pid>-<type>/``; the stamp is written
   last inside it, then the old ``{output}/<type>/`` is renamed aside, the staging
   folder renamed into place and the old one deleted (`tinymodels.run.output.install`).
   A run killed at any point never leaves a type folder with a stamp that does not
   describe its content.
5. After every type the five reports are rewritten (atomically) from the creation
   report, sorted by config class: the result does not depend on N or on completion
   order. Only the ``seconds`` timing fields differ between runs.

Progress goes to stderr (see `tinymodels.run.progress`). The Markdown job summary
(``$GITHUB_STEP_SUMMARY``) is CI's business: `tinymodels.commands.build` writes it after
the run.

Environment hooks: ``TINYMODELS_FAULT_INJECT`` (testing; see `tinymodels.run.worker_process`),
``TINYMODELS_WORKER_MAX_RSS_MB`` (recycle a worker above this resident size, default
6144), ``TINYMODELS_RUN_STATS=path`` (write run statistics as JSON: counts, wall time,
per-worker peak RSS — used by ``scripts/bench.py``; never part of the reports).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from tinymodels import environment, log
from tinymodels.options import BuildOptions
from tinymodels.run import fingerprint
from tinymodels.run.output import (
    check_output,
    clean_stale,
    install,
    output_lock,
    remove_type_dir,
    staging_dir,
)
from tinymodels.run.progress import Progress
from tinymodels.run.reports import CREATION_REPORT, arch_ok, load_report, write_reports

if TYPE_CHECKING:
    from tinymodels.run.report_types import Entry
    from tinymodels.run.workers import WorkerPool

STATS_ENV: Final[str] = "TINYMODELS_RUN_STATS"
MAX_FAILED_ARCH_LINES: Final[int] = 5


def failure_entry(model_type: str, options: BuildOptions, category: str, message: str,
                  trace: str | None = None) -> tuple[str, dict[str, Any]]:
    """The result entry of a type whose worker crashed, hung or raised: every architecture failed."""
    from tinymodels.config.discover import architectures_for, config_class

    try:
        config_name = config_class(model_type).__name__
    except Exception:  # noqa: BLE001 - an unregistered type still needs a report key
        config_name = model_type
    error = [f"[{category}] {message}", trace]
    archs = [a for a in architectures_for(model_type) if a not in options.skip]
    entry = {
        "model_type": model_type,
        "processor": {},
        "pytorch": {a: {"model": None, "checkpoint": None, "error": list(error), "category": category}
                    for a in archs},
        "error": list(error),
    }
    return config_name, entry


def entry_failed(entry: Mapping[str, Any]) -> bool:
    """True when any architecture failed, or the type failed as a whole."""
    archs = entry.get("pytorch", {})
    return any("error" in info for info in archs.values()) or bool(entry.get("error") and not archs)


def _one_line(text: Any, limit: int = 200) -> str:
    s = " ".join(str(text[0] if isinstance(text, list | tuple) else text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def summary_lines(model_type: str, entry: dict[str, Any], note: str = "") -> list[str]:
    """The ✓/✕ line of a finished type, plus a few lines naming failed architectures."""
    archs = entry.get("pytorch", {})
    good = sum(1 for info in archs.values() if arch_ok(info))
    seconds = entry.get("seconds")
    timing = f"  {seconds:.1f}s" if isinstance(seconds, int | float) else ""
    head = f"{'✕' if entry_failed(entry) else '✓'} {model_type}  {good}/{len(archs)} built{timing}{note}"
    failed = [(a, info) for a, info in archs.items() if "error" in info]
    if entry.get("error"):
        head += f"  {_one_line(entry['error'])}"
        # Every architecture carries the same type-level error: say it once.
        failed = [(a, i) for a, i in failed if i.get("error", [None])[0] != entry["error"][0]]
    lines = [head]
    for arch, info in failed[:MAX_FAILED_ARCH_LINES]:
        lines.append(f"    ✕ {arch}: {_one_line(info['error'])}")
    if len(failed) > MAX_FAILED_ARCH_LINES:
        lines.append(f"    … and {len(failed) - MAX_FAILED_ARCH_LINES} more failed architectures")
    return lines


@dataclass
class RunStats:
    """Statistics of one run (timing and memory: never written into the reports)."""

    requested: int = 0
    up_to_date: int = 0
    built: int = 0
    failed_types: int = 0
    num_workers: int = 0
    fingerprint_seconds: float = 0.0
    wall_seconds: float = 0.0
    workers: list[dict[str, Any]] = field(default_factory=list)


@contextlib.contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so workers are killed and staging folders removed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _plan(options: BuildOptions) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]], list[str]]:
    """(fingerprints, stamps of up-to-date types, types to build) for the requested types.

    Up-to-date checks read stamps and package metadata only; transformers is imported (for
    the `TypeFacts` of the fingerprints to write) only when some type is to be built."""
    from tinymodels.preprocess.corpus import corpus_id

    versions = fingerprint.library_versions()
    corpus = corpus_id(options.corpus)
    prints: dict[str, dict[str, Any]] = {}
    fresh: dict[str, dict[str, Any]] = {}
    todo: list[str] = []
    for model_type in options.model_types:
        stamp = None if options.force else fingerprint.read_stamp(options.output / model_type)
        facts = fingerprint.facts_from_stamp(stamp) if stamp is not None else None
        if stamp is not None and facts is not None:
            fp = fingerprint.compute(model_type, options, corpus, versions, facts)
            if stamp.get("fingerprint") == fp and _folders_present(options.output / model_type, stamp["entry"]):
                prints[model_type] = fp
                fresh[model_type] = stamp
                continue
        todo.append(model_type)
    if todo:
        _quiet_parent()
    for model_type in todo:
        prints[model_type] = fingerprint.compute(model_type, options, corpus, versions,
                                                 fingerprint.type_facts(model_type, options))
    return prints, fresh, todo


def _folders_present(type_dir: Path, entry: dict[str, Any]) -> bool:
    """Every architecture the stamp says was built still has its folder (someone may have deleted one)."""
    # The checkpoint path (relative to the output dir) names the folder: composites are keyed by
    # class (EncoderDecoderModel) but live in EncoderDecoderModel-bert-bert.
    return all((type_dir.parent / str(info.get("checkpoint") or f"{type_dir.name}/{arch}") / "config.json").is_file()
               for arch, info in entry.get("pytorch", {}).items() if arch_ok(info))


def _quiet_parent() -> None:
    """Resolving types' facts instantiates config classes, which log advice we do not want."""
    import warnings

    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", module="transformers")


def _write_stats(stats: RunStats) -> None:
    path = environment.run_stats_path()
    if path:
        from tinymodels.run.reports import atomic_write_text

        atomic_write_text(path, json.dumps(asdict(stats), indent=2) + "\n")


def _surely_builds(options: BuildOptions, all_types: bool) -> int:
    """How many workers certainly get work, judged from stamps alone (no transformers import)."""
    if options.num_workers <= 0:
        return 0
    if all_types:
        return options.num_workers if options.force or not (options.report_dir / CREATION_REPORT).exists() else 0
    if options.force:
        return min(options.num_workers, len(options.model_types))
    missing = sum(1 for t in options.model_types if fingerprint.read_stamp(options.output / t) is None)
    return min(options.num_workers, missing)


@contextlib.contextmanager
def early_workers(options: BuildOptions, all_types: bool = False) -> Iterator[WorkerPool | None]:
    """Start the workers that will certainly be needed before the types are even resolved.

    A worker spends seconds importing torch and transformers; so does this process to
    resolve the types and compute fingerprints. Started first, the two imports overlap on
    separate cores. `options.model_types` are the names as given (unchecked). Yields None
    when no work is certain (up-to-date re-runs start workers only if `_plan` finds work).
    """
    count = _surely_builds(options, all_types)
    if count == 0:
        yield None
        return
    from tinymodels.run.workers import WorkerPool

    with tempfile.TemporaryDirectory(prefix="tinymodels-run-") as tmp, \
            WorkerPool(options, options.num_workers, Path(tmp)) as pool:
        pool.start(count)
        yield pool


def run_build(options: BuildOptions, pool: WorkerPool | None = None) -> int:
    """Build every requested type; returns 0 when all architectures validated, else 1.

    `pool`: workers started early by `early_workers` (closed by its owner), else started here.
    """
    environment.set_default("TOKENIZERS_PARALLELISM", "false")
    start = time.monotonic()
    check_output(options.output)
    stats = RunStats(requested=len(options.model_types), num_workers=options.num_workers)
    any_failed = False
    with output_lock(options.output), _sigterm_as_interrupt():
        removed = clean_stale(options.output)
        if removed:
            log.info(f"removed {len(removed)} unfinished folder(s) of an interrupted run")
        report = load_report(options.report_dir / CREATION_REPORT)
        prints, fresh, todo = _plan(options)
        stats.fingerprint_seconds = round(time.monotonic() - start, 3)
        for stamp in fresh.values():
            report[stamp["config_class"]] = stamp["entry"]
            any_failed |= entry_failed(stamp["entry"])
        stats.up_to_date = len(fresh)
        if fresh:
            names = ", ".join(list(fresh)[:8]) + (", …" if len(fresh) > 8 else "")
            log.info(f"{len(fresh)} model type(s) up to date, not rebuilt ({names}); --force rebuilds them")
        write_reports(options.report_dir, report)
        if todo:
            how = (f"{options.num_workers} worker process(es)" if options.num_workers > 0 else "in-process")
            log.info(f"building {len(todo)} model type(s), {how}, timeout {options.timeout:g} s per type")
        progress = Progress(total=len(options.model_types), initial=len(fresh))
        with tempfile.TemporaryDirectory(prefix="tinymodels-run-") as tmp:
            try:
                for out in _build_all(options, todo, Path(tmp), progress, stats, pool):
                    model_type, config_name, entry = out.model_type, out.config_class, out.entry
                    staging = staging_dir(options.output, model_type)
                    if out.stamp:
                        install(options.output, model_type, staging,
                                fingerprint.stamp_text(prints[model_type], config_name, entry))
                    else:
                        # Crashes, timeouts and internal errors may be transient: no stamp, so the
                        # next run retries the type; no folder, so the output matches the report.
                        shutil.rmtree(staging, ignore_errors=True)
                        remove_type_dir(options.output, model_type)
                    report[config_name] = cast("Entry", entry)  # (a builder entry has its shape)
                    write_reports(options.report_dir, report)
                    failed = entry_failed(entry)
                    any_failed |= failed
                    stats.built += 1
                    stats.failed_types += failed
                    lines = summary_lines(model_type, entry)
                    if out.log_tail:
                        lines += ["    worker output (last lines):"] + [f"    | {x}" for x in out.log_tail.splitlines()]
                    progress.finished(not failed, lines)
            finally:
                progress.close()
                clean_stale(options.output)
    stats.wall_seconds = round(time.monotonic() - start, 3)
    _write_stats(stats)
    failed_types = sum(1 for e in report.values() if e.get("model_type") in prints and entry_failed(e))
    log.info(f"{len(options.model_types)} model type(s): {stats.built} built, {stats.up_to_date} up to date, "
             f"{failed_types} with failures; {_peak_text(stats)}wall {stats.wall_seconds:.1f}s")
    log.info(f"reports written to {options.report_dir}")
    return 1 if any_failed else 0


def _peak_text(stats: RunStats) -> str:
    peaks = [w["peak_rss"] for w in stats.workers if w.get("peak_rss")]
    return f"peak worker RSS {max(peaks) / 2**20:.0f} MB, " if peaks else ""


@dataclass
class Outcome:
    """One finished model type: its report entry, and whether it may be stamped as complete."""

    model_type: str
    config_class: str
    entry: dict[str, Any]
    stamp: bool = True
    log_tail: str = ""


def _build_all(options: BuildOptions, todo: list[str], log_dir: Path, progress: Progress,
               stats: RunStats, early: WorkerPool | None = None) -> Iterator[Outcome]:
    """Yield an `Outcome` per type as types finish (completion order)."""
    if not todo:
        return
    if options.num_workers <= 0:
        yield from _build_in_process(options, todo, progress)
        return
    from tinymodels.run.workers import WorkerPool

    tasks = [(t, staging_dir(options.output, t)) for t in todo]
    own = early is None
    with WorkerPool(options, min(options.num_workers, len(todo)), log_dir) if own else \
            contextlib.nullcontext(early) as pool:
        assert pool is not None
        try:
            for result in pool.results(tasks, tick=progress.tick):
                if result.failure is None:
                    assert result.config_class is not None and result.entry is not None
                    yield Outcome(result.model_type, result.config_class, result.entry)
                else:
                    category, message = result.failure
                    config_name, entry = failure_entry(result.model_type, options, category, message,
                                                       result.traceback)
                    yield Outcome(result.model_type, config_name, entry, stamp=False, log_tail=result.log_tail)
        finally:
            pool.close()
            stats.workers = [asdict(s) for s in pool.stats]


def _build_in_process(options: BuildOptions, todo: list[str], progress: Progress) -> Iterator[Outcome]:
    """--num-workers 0: build here, one type after the other (no isolation, no timeout)."""
    import traceback

    from tinymodels.build.builder import build_model_type, one_thread, quiet_libraries

    quiet_libraries()
    one_thread()
    for model_type in todo:
        try:
            config_name, entry = build_model_type(model_type, options, staging_dir(options.output, model_type))
        except Exception as exc:  # noqa: BLE001 - same treatment as a worker's internal error
            message = f"internal error: {type(exc).__name__}: {exc}"
            config_name, entry = failure_entry(model_type, options, "error", message, traceback.format_exc())
            yield Outcome(model_type, config_name, entry, stamp=False)
            continue
        yield Outcome(model_type, config_name, entry)
        progress.tick()
