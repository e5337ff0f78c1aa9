"""Markdown job summary of a creation report, for `$GITHUB_STEP_SUMMARY` or a terminal.

Layout, meant to stay readable with hundreds of model types: a totals line, the failures
in a collapsible ``<details>`` block, then one table row per model type (model type,
built, failed, params, size on disk, link or failure reason). Architecture entries may
carry ``params``, ``bytes``, ``seconds``, ``sha`` and ``repo_id``; all are optional.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tinymodels import environment, log
from tinymodels.run import reports
from tinymodels.run.report_types import PYTORCH, Entry, ErrorPair

# GitHub rejects a step summary above 1 MiB: bound every cell and the failure list.
MAX_REASON_CHARS: Final[int] = 160
MAX_FAILURE_ROWS: Final[int] = 500
MAX_LINKS_PER_TYPE: Final[int] = 6
DEFAULT_HUB: Final[str] = "https://huggingface.co"

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#])")


def _cell(text: object, limit: int = MAX_REASON_CHARS) -> str:
    """One table cell: single line, bounded, Markdown/HTML neutralised."""
    s = " ".join(str(text).split())
    if len(s) > limit:
        s = s[: limit - 1].rstrip() + "…"
    return _MD_SPECIAL.sub(r"\\\1", s.replace("&", "&amp;"))


def _code(name: str) -> str:
    return f"`{name.replace('`', '')}`".replace("|", "\\|")


def human_count(n: int) -> str:
    """1234 -> 1.2K, 1_500_000 -> 1.5M."""
    for value, suffix in ((10**9, "B"), (10**6, "M"), (10**3, "K")):
        if n >= value:
            return f"{n / value:.1f}{suffix}"
    return str(n)


def human_bytes(n: int) -> str:
    """Binary units, one decimal: 1536 -> 1.5 KiB."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_seconds(s: float) -> str:
    if s < 60:
        return f"{s:.1f}s"
    minutes, seconds = divmod(int(round(s)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {seconds:02d}s"


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _float(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _message(err: ErrorPair | str | None) -> str:
    if isinstance(err, list | tuple):
        err = err[0] if err else ""
    return str(err) if err is not None else "unknown error"


@dataclass
class TypeRow:
    """What one model type produced, over all its config classes."""

    model_type: str
    built: list[str] = field(default_factory=list)
    params: list[int] = field(default_factory=list)
    size: int = 0
    seconds: float = 0.0
    links: list[tuple[str, str | None]] = field(default_factory=list)  # (arch, repo_id)
    failures: list[tuple[str, str, str]] = field(default_factory=list)  # (arch or config, category, reason)
    # Why the type was built from blank instead of its original (`--tokenizer-source original`).
    fallbacks: list[str] = field(default_factory=list)


def collect(report: Mapping[str, Entry]) -> list[TypeRow]:
    """Group a creation report by model type, sorted by model type.

    Beyond the shape `ci.aggregate.validate_creation_report` checks, every value is checked before
    it is used: a report of another version must still give a summary, never an exception."""
    rows: dict[str, TypeRow] = {}
    for config_name, entry in report.items():
        if not isinstance(entry, Mapping):
            continue
        model_type = entry.get("model_type")
        if not isinstance(model_type, str):
            model_type = config_name
        row = rows.setdefault(model_type, TypeRow(model_type))
        archs = entry.get(PYTORCH)
        if not isinstance(archs, Mapping):
            archs = {}
        entry_seconds = _float(entry.get("seconds"))
        arch_seconds = 0.0
        failed_here = 0
        for arch, info in archs.items():
            if not isinstance(info, Mapping):
                continue
            arch_seconds += _float(info.get("seconds")) or 0.0
            if reports.arch_ok(info):
                row.built.append(arch)
                if (p := _int(info.get("params"))) is not None:
                    row.params.append(p)
                row.size += _int(info.get("bytes")) or 0
                repo = info.get("repo_id")
                row.links.append((arch, repo if isinstance(repo, str) and repo else None))
            else:
                failed_here += 1
                reason = _message(info.get("error") or entry.get("error") or "not built")
                row.failures.append((arch, str(info.get("category") or entry.get("category") or ""), reason))
        if entry.get("error") and not failed_here:
            # A config-level failure (nothing to build, or every architecture skipped).
            row.failures.append((config_name, str(entry.get("category") or ""), _message(entry["error"])))
        row.seconds += entry_seconds if entry_seconds is not None else arch_seconds
        fallback = entry.get("source_fallback")
        if isinstance(fallback, Mapping):
            row.fallbacks.extend(str(r) for r in fallback.get("reasons") or [])
    return [rows[k] for k in sorted(rows)]


def _params_cell(params: list[int]) -> str:
    if not params:
        return "—"
    lo, hi = min(params), max(params)
    return human_count(lo) if lo == hi else f"{human_count(lo)}–{human_count(hi)}"


def _link_cell(row: TypeRow, hub: str) -> str:
    if row.failures:
        more = f" (+{len(row.failures) - 1} more)" if len(row.failures) > 1 else ""
        return _cell(row.failures[0][2], 100) + more
    shown = []
    for arch, repo in row.links[:MAX_LINKS_PER_TYPE]:
        shown.append(f"[{_cell(arch)}]({hub}/{repo})" if repo else _code(arch))
    extra = len(row.links) - MAX_LINKS_PER_TYPE
    return ", ".join(shown) + (f" +{extra} more" if extra > 0 else "") if shown else "—"


def render_markdown(report: Mapping[str, Entry], title: str = "Tiny models", env: Mapping[str, str] | None = None) -> str:
    """The whole Markdown summary of a creation report."""
    hub = (environment.hf_endpoint(env) or DEFAULT_HUB).rstrip("/")
    rows = collect(report)
    built = sum(len(r.built) for r in rows)
    failed = sum(len(r.failures) for r in rows)
    failed_types = sum(1 for r in rows if r.failures)
    size = sum(r.size for r in rows)
    seconds = sum(r.seconds for r in rows)

    out = [f"## {title}", ""]
    if not rows:
        out += ["No model types in this report.", ""]
        return "\n".join(out)
    totals = (f"**{len(rows)} model type{'s' if len(rows) != 1 else ''}**: {built} architecture"
              f"{'s' if built != 1 else ''} built, {failed} failed")
    if failed:
        totals += f" (in {failed_types} model type{'s' if failed_types != 1 else ''})"
    totals += f" · {human_bytes(size)} on disk"
    if seconds:
        totals += f" · {human_seconds(seconds)} build time"
    out += [("❌ " if failed else "✅ ") + totals, ""]

    if failed:
        out += ["<details>", f"<summary>{failed} failure{'s' if failed != 1 else ''}</summary>", "",
                "| model type | architecture | category | reason |", "| --- | --- | --- | --- |"]
        listed = 0
        for row in rows:
            for arch, category, reason in row.failures:
                if listed == MAX_FAILURE_ROWS:
                    break
                out.append(f"| {_code(row.model_type)} | {_code(arch)} | {_cell(category) or '—'} | {_cell(reason)} |")
                listed += 1
        if failed > listed:
            out.append(f"\n… and {failed - listed} more: see `{reports.FAILED_REPORT}`.")
        out += ["", "</details>", ""]

    fallbacks = [(row.model_type, reason) for row in rows for reason in row.fallbacks]
    if fallbacks:
        # Not failures: these parts were built from blank, as the run would have been by default.
        out += ["<details>", f"<summary>{len(fallbacks)} source fallback{'s' if len(fallbacks) != 1 else ''} "
                "(built from blank instead of the original)</summary>", "",
                "| model type | reason |", "| --- | --- |",
                *(f"| {_code(t)} | {_cell(r)} |" for t, r in fallbacks[:MAX_FAILURE_ROWS]), "", "</details>", ""]

    out += ["| model type | built | failed | params | size on disk | link or failure reason |",
            "| --- | ---: | ---: | ---: | ---: | --- |"]
    for row in rows:
        out.append(
            f"| {_code(row.model_type)} | {len(row.built)} | {f'❌ {len(row.failures)}' if row.failures else 0} "
            f"| {_params_cell(row.params)} | {human_bytes(row.size) if row.size else '—'} | {_link_cell(row, hub)} |"
        )
    out.append("")
    return "\n".join(out)


def render_report_dir(report_dir: Path, env: Mapping[str, str] | None = None, title: str = "Tiny models") -> str:
    """Markdown for the creation report in `report_dir` (a report dir, output dir or the file)."""
    from tinymodels.ci.aggregate import find_report_file, read_json, validate_creation_report

    path = find_report_file(report_dir, reports.CREATION_REPORT)
    report = validate_creation_report(read_json(path), str(path))
    return render_markdown(report, title=title, env=env)


def write_step_summary(report_dir: Path, env: Mapping[str, str] | None = None, title: str = "Tiny models") -> bool:
    """Append the summary of `report_dir` to `$GITHUB_STEP_SUMMARY`; False when it is unset.

    Safe to call after every shard: a missing or unreadable report only logs a warning,
    because a job summary must never turn a finished build into a failed one.
    """
    environ = environment.snapshot(env)
    if not environment.github_file("GITHUB_STEP_SUMMARY", environ):
        return False
    try:
        text = render_report_dir(Path(report_dir), env=environ, title=title)
    except Exception as exc:  # noqa: BLE001 - a job summary must never fail a finished build (see the docstring)
        log.warning(f"no job summary written: {exc}")
        return False
    try:
        return log.append_github_file("GITHUB_STEP_SUMMARY", text, env=environ)
    except OSError as exc:
        log.warning(f"cannot write $GITHUB_STEP_SUMMARY: {exc}")
        return False
