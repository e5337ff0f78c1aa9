"""Update a repository's ``tests/utils/tiny_model_summary.json`` from a new build summary.

Upstream's merge rules (``update_tiny_model_summary_file``):

- a new architecture key is added whole;
- for an existing key, ``tokenizer_classes``, ``processor_classes`` and ``model_classes``
  are extended with the new values, and ``sha`` is replaced when the new one is not null;
- then keys are sorted and every list is deduplicated and sorted (``sha`` kept as is);
- the file is written with ``indent=4, ensure_ascii=False``.

Unlike upstream, which leaves ``updated_tiny_model_summary.json`` for a human to paste,
the target is rewritten in place, atomically. Upstream's file has no trailing newline; an
existing file keeps whatever it had, so merging a normalised file into itself is a byte
no-op.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Literal, cast

from tinymodels.errors import OutputDirError, ReportError
from tinymodels.run import reports
from tinymodels.run.report_types import SOURCE_FIELDS, Summary, SummaryEntry

ListAttr = Literal["tokenizer_classes", "processor_classes", "model_classes"]
LIST_ATTRS: Final[tuple[ListAttr, ...]] = ("tokenizer_classes", "processor_classes", "model_classes")


def validate_summary(data: Any, source: str) -> Summary:
    """Check the ``{Arch: {"tokenizer_classes": [...], ..., "sha"?: str}}`` shape."""
    if not isinstance(data, dict):
        raise ReportError(f"{source}: expected a JSON object mapping architectures to entries, "
                          f"got {type(data).__name__}")
    for arch, entry in data.items():
        if not isinstance(entry, dict):
            raise ReportError(f"{source}: {arch}: entry must be a JSON object, got {type(entry).__name__}")
        for attr, value in entry.items():
            if attr == "sha":
                if value is not None and not isinstance(value, str):
                    raise ReportError(f"{source}: {arch}.sha must be a string or null")
            elif attr in LIST_ATTRS and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
                raise ReportError(f"{source}: {arch}.{attr} must be a list of class names")
    return data


def read_summary(path: Path) -> tuple[Summary, str | None]:
    """The parsed summary at `path` and its text (None when the file does not exist)."""
    if not path.exists():
        return {}, None
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"{path}: cannot read: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc})") from exc
    return validate_summary(data, str(path)), text


def _normalize_entry(entry: SummaryEntry) -> SummaryEntry:
    # Attribute by attribute, so that one upstream adds (unknown here) is kept too.
    return cast(SummaryEntry, {attr: sorted(set(value)) if isinstance(value, list) else value
                               for attr, value in entry.items()})


def normalize(data: Mapping[str, SummaryEntry]) -> Summary:
    """Keys sorted; every list deduplicated and sorted; other values (``sha``) kept."""
    return {key: _normalize_entry(data[key]) for key in sorted(data)}


def merge(old: Mapping[str, SummaryEntry], new: Mapping[str, SummaryEntry]) -> Summary:
    """Upstream's merge of `new` into `old`, normalised (neither argument is modified)."""
    data: Summary = copy.deepcopy(dict(old))
    for key, value in new.items():
        if key not in data:
            data[key] = copy.deepcopy(value)
            continue
        entry = data[key]
        for attr in LIST_ATTRS:
            # Duplicates are removed by normalize().
            entry[attr] = [*entry.get(attr, []), *value.get(attr, [])]
        if value.get("sha") is not None:
            entry["sha"] = value["sha"]
        for field_name in SOURCE_FIELDS:  # a rebuild's tokenizer/processor source replaces the old one
            if field_name in value:
                entry[field_name] = value[field_name]
    return normalize(data)


def dumps(data: Summary, trailing_newline: bool = False) -> str:
    """Upstream's serialisation (`json.dump(indent=4, ensure_ascii=False)`, no final newline)."""
    return json.dumps(data, indent=4, ensure_ascii=False) + ("\n" if trailing_newline else "")


def _describe(before: SummaryEntry, after: SummaryEntry) -> str:
    parts = []
    for attr in LIST_ATTRS:
        added = sorted(set(after.get(attr, [])) - set(before.get(attr, [])))
        if added:
            parts.append(f"+{attr}: {', '.join(added)}")
    if before.get("sha") != after.get("sha"):
        old_sha, new_sha = before.get("sha"), after.get("sha")
        parts.append(f"sha {str(old_sha)[:7] if old_sha else 'none'} -> {str(new_sha)[:7]}")
    return "; ".join(parts) or "normalised"


@dataclass
class SummaryUpdate:
    """What `update_summary_file` did (or would do, with ``dry_run``)."""

    into: Path
    added: list[str] = field(default_factory=list)
    updated: dict[str, str] = field(default_factory=dict)  # arch -> what changed
    unchanged: list[str] = field(default_factory=list)
    created: bool = False
    rewritten: bool = False  # the file's bytes changed (or would change)

    def format(self) -> str:
        lines = [f"{self.into}: {len(self.added)} added, {len(self.updated)} updated, "
                 f"{len(self.unchanged)} unchanged"
                 + (" (file created)" if self.created else "")
                 + ("" if self.rewritten else " (no change to the file)")]
        lines += [f"  added    {name}" for name in self.added]
        lines += [f"  updated  {name}: {what}" for name, what in self.updated.items()]
        if self.rewritten and not self.added and not self.updated and not self.created:
            lines.append("  (formatting normalised: keys and lists sorted, duplicates removed)")
        return "\n".join(lines)


def update_summary_file(into: Path, new: Mapping[str, SummaryEntry], dry_run: bool = False) -> SummaryUpdate:
    """Merge `new` into the summary file `into` (created if absent), atomically."""
    new = validate_summary(dict(new), "new summary")
    old, old_text = read_summary(into)
    merged = merge(old, new)
    before = normalize(old)
    result = SummaryUpdate(into=into, created=old_text is None)
    for key in sorted(new):
        if key not in before:
            result.added.append(key)
        elif before[key] != merged[key]:
            result.updated[key] = _describe(before[key], merged[key])
        else:
            result.unchanged.append(key)
    text = dumps(merged, trailing_newline=bool(old_text and old_text.endswith("\n")))
    result.rewritten = text != old_text
    if result.rewritten and not dry_run:
        try:
            mode = into.stat().st_mode & 0o7777 if old_text is not None else None
            reports.atomic_write_text(into, text)
            # The temporary file is created 0600; keep the file readable as before (or per umask).
            if mode is None:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
            os.chmod(into, mode)
        except OSError as exc:
            raise OutputDirError(f"cannot write {into}: {exc}") from exc
    return result


def load_new_summary(path: Path) -> Summary:
    """The build summary at `path`: the file, a report directory or an output directory."""
    from tinymodels.ci.aggregate import find_report_file

    summary_path = find_report_file(path, reports.SUMMARY)
    data, _ = read_summary(summary_path)
    return data
