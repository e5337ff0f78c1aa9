"""Upstream-compatible report files, derived from one creation-report dict.

The creation report maps a config class name to upstream's result entry (typed in
`report_types`)::

    {"processor": {"BertTokenizer": "BertTokenizer"},
     "pytorch": {"BertModel": {"model": "BertModel", "checkpoint": "bert/BertModel",
                               "params": 1234, "bytes": 5678, "seconds": 0.4}},
     "vocab_size": 1024, "model_type": "bert",
     "error"?: [message, traceback], "warnings"?: [...]}

A failed architecture has ``"model": null, "checkpoint": null, "error": [msg, tb],
"category": "..."``. Every other report (summary, failed, simple) is computed from
this dict, so writing all of them after each model type is cheap and a crash never
loses finished work. Checkpoint paths are relative to the output directory so that
shard reports merge into exactly what a single-process build writes.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from tinymodels.config.discover import is_tokenizer_class
from tinymodels.run.report_types import (
    PYTORCH,
    SOURCE_FIELDS,
    ArchEntry,
    Entry,
    ErrorPair,
    FailedArch,
    FailedEntry,
    FailedReport,
    Report,
    Summary,
    SummaryEntry,
)

CREATION_REPORT: Final[str] = "tiny_model_creation_report.json"
SUMMARY: Final[str] = "tiny_model_summary.json"
FAILED_REPORT: Final[str] = "failed_report.json"
SIMPLE_REPORT: Final[str] = "simple_report.txt"
SIMPLE_FAILED_REPORT: Final[str] = "simple_failed_report.txt"
FAILED_UPLOADS: Final[str] = "failed_uploads.json"


def atomic_write_text(path: Path, text: str) -> None:
    """Write `text` to `path` via a temporary file + rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        # mkstemp creates 0600; reports are meant to be shared like any other output file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dump_json(obj: object) -> str:
    """Serialise like upstream: indent 4, non-ASCII kept, trailing newline."""
    return json.dumps(obj, indent=4, ensure_ascii=False) + "\n"


def arch_ok(info: ArchEntry) -> bool:
    """True when an architecture entry was built and validated."""
    return info.get("model") is not None and "error" not in info


def build_summary(report: Mapping[str, Entry], shas: Mapping[str, str] | None = None) -> Summary:
    """`tiny_model_summary.json`: one entry per successfully built architecture."""
    summary: Summary = {}
    for entry in report.values():
        processors = sorted(entry.get("processor", {}))
        tokenizers = sorted(p for p in processors if is_tokenizer_class(p))
        others = sorted(p for p in processors if not is_tokenizer_class(p))
        for arch, info in entry.get(PYTORCH, {}).items():
            if not arch_ok(info):
                continue
            item: SummaryEntry = {
                "tokenizer_classes": tokenizers,
                "processor_classes": others,
                "model_classes": [arch],
            }
            for key in SOURCE_FIELDS:  # only with --tokenizer-source original (blank is implied)
                if key in entry:
                    item[key] = entry[key]
            sha = (shas or {}).get(arch) or info.get("sha")
            if sha:
                item["sha"] = sha
            summary[arch] = item
    return dict(sorted(summary.items()))


def build_failed_report(report: Mapping[str, Entry], include_warnings: bool = True) -> FailedReport:
    """`failed_report.json`: config-level errors/warnings and failed architectures."""
    failed: FailedReport = {}
    for config_name, entry in report.items():
        item: FailedEntry = {}
        if entry.get("error"):
            item["error"] = entry["error"]
        if include_warnings and entry.get("warnings"):
            item["warnings"] = entry["warnings"]
        archs = {a: FailedArch(error=i["error"]) for a, i in entry.get(PYTORCH, {}).items() if "error" in i}
        if archs:
            item[PYTORCH] = archs
        if item:
            failed[config_name] = item
    return failed


def _message(err: ErrorPair | str) -> str:
    msg = err[0] if isinstance(err, list | tuple) else str(err)
    # One line per architecture in the simple reports.
    return " ".join(str(msg).split())


def build_simple_report(report: Mapping[str, Entry]) -> tuple[str, str]:
    """`simple_report.txt` and `simple_failed_report.txt` as text."""
    lines: list[str] = []
    failed: list[str] = []
    for entry in report.values():
        for arch, info in entry.get(PYTORCH, {}).items():
            if arch_ok(info):
                lines.append(f"{arch}: OK")
            else:
                line = f"{arch}: {_message(info.get('error', 'not built'))}"
                lines.append(line)
                failed.append(line)
    return "\n".join(lines) + ("\n" if lines else ""), "\n".join(failed) + ("\n" if failed else "")


def sort_report(report: Mapping[str, Entry]) -> Report:
    """Deterministic order: config classes sorted by name (entries keep their own order)."""
    return {k: report[k] for k in sorted(report)}


def write_reports(report_dir: Path, report: Mapping[str, Entry], shas: Mapping[str, str] | None = None) -> None:
    """(Re)write all five report files from the creation report, each atomically."""
    report = sort_report(report)
    atomic_write_text(report_dir / CREATION_REPORT, dump_json(report))
    atomic_write_text(report_dir / SUMMARY, dump_json(build_summary(report, shas)))
    atomic_write_text(report_dir / FAILED_REPORT, dump_json(build_failed_report(report)))
    simple, simple_failed = build_simple_report(report)
    atomic_write_text(report_dir / SIMPLE_REPORT, simple)
    atomic_write_text(report_dir / SIMPLE_FAILED_REPORT, simple_failed)


def load_report(path: Path) -> Report:
    """Read a creation report; a missing file is an empty report."""
    if not path.exists():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


# Fields that hold wall-clock times: they differ between runs of the same inputs.
TIMING_FIELDS = frozenset({"seconds", "level_seconds"})


def without_timings(obj: Any) -> Any:
    """A report (or any JSON value) with its timing fields removed, for comparisons."""
    if isinstance(obj, dict):
        return {k: without_timings(v) for k, v in obj.items() if k not in TIMING_FIELDS}
    if isinstance(obj, list):
        return [without_timings(v) for v in obj]
    return obj


def output_digests(root: Path) -> dict[str, str]:
    """sha256 of every file of a build output; JSON reports and stamps compared without timings.

    Two builds of the same inputs must give equal digests whatever the worker count.
    """
    import hashlib

    from tinymodels.run.output import LOCK_FILE, STAMP

    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_dir() or rel == LOCK_FILE:
            continue
        data = path.read_bytes()
        if path.suffix == ".json" and (rel.startswith("reports/") or path.name == STAMP):
            data = json.dumps(without_timings(json.loads(data)), sort_keys=True).encode()
        out[rel] = hashlib.sha256(data).hexdigest()
    return out
