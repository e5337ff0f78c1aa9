"""Merge the report directories of CI shards into one set of report files.

Each shard writes ``reports/tiny_model_creation_report.json`` (and, with ``--upload``,
``failed_uploads.json``). Merging the creation dicts and re-deriving every report with
`reports.write_reports` gives the same bytes as a single-process build of the same model
types, because every report is computed from the creation dict sorted by config class.

Everything is read and checked before anything is written: a malformed or conflicting
partial raises `ReportError` and leaves the output directory untouched.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from tinymodels import log
from tinymodels.errors import ReportError
from tinymodels.run import reports
from tinymodels.run.report_types import PYTORCH, FailedUploads, Report


def find_report_file(path: Path, name: str) -> Path:
    """Resolve `path` (the file itself, a report directory or an output directory) to report `name`."""
    if path.is_file():
        return path
    for candidate in (path / name, path / "reports" / name):
        if candidate.is_file():
            return candidate
    if not path.exists():
        raise ReportError(f"{path}: no such file or directory")
    raise ReportError(f"{path}: no {name} here or in {path / 'reports'}")


# Report files other than the creation report: what a download of one artifact puts straight
# into its path, and what `partials/*` then expands to.
_SIBLING_REPORTS = frozenset({reports.SUMMARY, reports.FAILED_REPORT, reports.SIMPLE_REPORT,
                              reports.SIMPLE_FAILED_REPORT, reports.FAILED_UPLOADS})


def _shard_reports(path: Path) -> list[Path]:
    """Creation reports in the sub-directories of `path` (one per downloaded shard artifact)."""
    found = []
    for child in sorted(p for p in path.iterdir() if p.is_dir()):
        try:
            found.append(find_report_file(child, reports.CREATION_REPORT))
        except ReportError:
            # An artifact without a creation report: its shard died before writing one.
            log.warning(f"{child}: no {reports.CREATION_REPORT}; skipping it")
    return found


def partial_report_files(paths: Iterable[Path]) -> list[Path]:
    """Creation reports named by `paths`.

    A path is a creation report, a report directory, an output directory, or a directory
    whose sub-directories are any of those. The last two are what ``download-artifact``
    gives for one and for several shard artifacts (one matched artifact is extracted
    straight into its path, several each into a sub-directory, or all into the path with
    ``merge-multiple``), so passing the download path itself works for any shard count.
    """
    found: list[Path] = []
    for path in paths:
        if path.is_file() and path.name in _SIBLING_REPORTS:
            raise ReportError(
                f"{path}: a {path.name}, not a {reports.CREATION_REPORT}; pass the directory that holds "
                f"the reports ({path.parent}), not its files (download-artifact extracts a single "
                "matched artifact straight into its path, so a glob over that path names files)")
        try:
            found.append(find_report_file(path, reports.CREATION_REPORT))
            continue
        except ReportError:
            if not path.is_dir():
                raise
        children = _shard_reports(path)
        if not children:
            raise ReportError(
                f"{path}: no {reports.CREATION_REPORT} in it, in {path / 'reports'}, or in its sub-directories"
            )
        found.extend(children)
    # The same file named twice (e.g. a dir and its report file) is one partial, not a duplicate.
    unique: dict[Path, Path] = {}
    for f in found:
        unique.setdefault(f.resolve(), f)
    return list(unique.values())


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from exc


def validate_creation_report(data: Any, source: str) -> Report:
    """Check the shape documented in `reports` and return `data` typed as a report."""
    if not isinstance(data, dict):
        raise ReportError(f"{source}: expected a JSON object mapping config classes to entries, "
                          f"got {type(data).__name__}")
    for config_name, entry in data.items():
        where = f"{source}: {config_name}"
        if not isinstance(entry, dict):
            raise ReportError(f"{where}: entry must be a JSON object, got {type(entry).__name__}")
        if "model_type" in entry and not isinstance(entry["model_type"], str):
            raise ReportError(f"{where}: 'model_type' must be a string")
        processor = entry.get("processor", {})
        if not isinstance(processor, dict):
            raise ReportError(f"{where}: 'processor' must be a JSON object")
        archs = entry.get(PYTORCH, {})
        if not isinstance(archs, dict):
            raise ReportError(f"{where}: '{PYTORCH}' must be a JSON object")
        for arch, info in archs.items():
            if not isinstance(info, dict):
                raise ReportError(f"{where}: {PYTORCH}.{arch} must be a JSON object")
            if "model" not in info and "error" not in info:
                raise ReportError(f"{where}: {PYTORCH}.{arch} has neither 'model' nor 'error'")
    # The checks above are what every reader relies on; the rest of `Entry` is trusted.
    return data


def _differing_keys(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[str]:
    """Top-level keys (and pytorch.<arch>) whose values differ, to make a conflict readable."""
    keys: list[str] = []
    for key in sorted(set(a) | set(b)):
        if a.get(key) == b.get(key):
            continue
        if key == PYTORCH and isinstance(a.get(key), dict) and isinstance(b.get(key), dict):
            keys.extend(f"{PYTORCH}.{k}" for k in _differing_keys(a[key], b[key]))
        else:
            keys.append(key)
    return keys


@dataclass
class Merged:
    """The merged creation report and failed uploads, with where each key came from."""

    report: Report = field(default_factory=dict)
    failed_uploads: FailedUploads = field(default_factory=dict)
    sources: list[Path] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


# A report's values: a config class's entry, or a failed upload's message.
_Value = TypeVar("_Value")


def _merge_into(target: dict[str, _Value], origin: dict[str, Path], data: Mapping[str, _Value], source: Path,
                what: str, merged: Merged) -> None:
    for key, value in data.items():
        if key not in target:
            target[key] = value
            origin[key] = source
        elif target[key] == value:
            merged.duplicates.append(key)
            log.warning(f"{what} {key!r} appears identically in {origin[key]} and {source}; keeping one copy")
        else:
            detail = ""
            kept = target[key]
            if isinstance(value, dict) and isinstance(kept, dict):
                detail = f" (differing: {', '.join(_differing_keys(kept, value))})"
            raise ReportError(f"conflicting partial reports: {what} {key!r} differs between "
                              f"{origin[key]} and {source}{detail}; a model type was built by two shards")


def merge_partials(paths: Sequence[Path]) -> Merged:
    """Read, validate and merge the partial reports named by `paths` (nothing is written)."""
    merged = Merged()
    origin: dict[str, Path] = {}
    upload_origin: dict[str, Path] = {}
    for report_file in partial_report_files(paths):
        data = validate_creation_report(read_json(report_file), str(report_file))
        _merge_into(merged.report, origin, data, report_file, "config class", merged)
        uploads_file = report_file.parent / reports.FAILED_UPLOADS
        if uploads_file.is_file():
            uploads = read_json(uploads_file)
            if not isinstance(uploads, dict) or not all(isinstance(v, str) for v in uploads.values()):
                raise ReportError(f"{uploads_file}: expected a JSON object mapping model dirs to messages")
            _merge_into(merged.failed_uploads, upload_origin, uploads, uploads_file, "failed upload", merged)
        merged.sources.append(report_file)
    merged.report = reports.sort_report(merged.report)
    merged.failed_uploads = dict(sorted(merged.failed_uploads.items()))
    return merged


def write_merged(report_dir: Path, merged: Merged) -> None:
    """Write the report files (and failed_uploads.json when any upload failed)."""
    reports.write_reports(report_dir, merged.report)
    uploads_file = report_dir / reports.FAILED_UPLOADS
    if merged.failed_uploads:
        reports.atomic_write_text(uploads_file, reports.dump_json(merged.failed_uploads))
    else:
        # A stale list from an earlier run would contradict the merged reports.
        uploads_file.unlink(missing_ok=True)


def aggregate(paths: Sequence[Path], report_dir: Path) -> Merged:
    """Merge the partials named by `paths` and write the reports to `report_dir`."""
    merged = merge_partials(paths)
    write_merged(report_dir, merged)
    return merged
