"""The report TypedDicts (`run.report_types`) name every key the report files hold."""

from __future__ import annotations

import json
import typing
from pathlib import Path

from tinymodels.run import report_types, reports
from tinymodels.run.report_types import PYTORCH, ArchEntry, Entry, FailedEntry, SummaryEntry


def _keys(typed_dict: type) -> frozenset[str]:
    return typed_dict.__required_keys__ | typed_dict.__optional_keys__


def _check_reports(report_dir: Path) -> None:
    """Every key of the written reports is declared by its TypedDict."""
    creation = json.loads((report_dir / reports.CREATION_REPORT).read_text(encoding="utf-8"))
    assert creation
    for entry in creation.values():
        assert set(entry) <= _keys(Entry), set(entry) - _keys(Entry)
        for info in entry[PYTORCH].values():
            assert set(info) <= _keys(ArchEntry), set(info) - _keys(ArchEntry)
    summary = json.loads((report_dir / reports.SUMMARY).read_text(encoding="utf-8"))
    for item in summary.values():
        assert set(item) <= _keys(SummaryEntry)
    failed = json.loads((report_dir / reports.FAILED_REPORT).read_text(encoding="utf-8"))
    for item in failed.values():
        assert set(item) <= _keys(FailedEntry)


def test_annotations_resolve() -> None:
    # The annotations are strings (`from __future__ import annotations`): each must name a real type.
    typed = [obj for obj in vars(report_types).values() if typing.is_typeddict(obj)]
    assert {t.__name__ for t in typed} >= {"Entry", "ArchEntry", "SummaryEntry", "FailedEntry"}
    for typed_dict in typed:
        assert typing.get_type_hints(typed_dict)


def test_key_constants_match_the_types() -> None:
    assert PYTORCH in _keys(Entry) and PYTORCH in _keys(FailedEntry)
    assert set(report_types.SOURCE_FIELDS) <= _keys(Entry) & _keys(SummaryEntry)
    assert reports.TIMING_FIELDS <= _keys(ArchEntry) | _keys(Entry)


def test_written_reports_use_declared_keys(tmp_path: Path) -> None:
    failed: ArchEntry = {"model": None, "checkpoint": None, "error": ["[forward] boom", "Traceback"],
                         "category": "forward", "level": "forward", "levels": {"load": "ok", "forward": "failed"}}
    report: report_types.Report = {"FooConfig": {
        "model_type": "foo", "processor": {"FooTokenizer": "FooTokenizer"}, "seconds": 1.0,
        "tokenizer_source": "original:org/foo", "processor_source": "none", "warnings": ["careful"],
        PYTORCH: {"FooModel": {"model": "FooModel", "checkpoint": "foo/FooModel", "params": 10, "bytes": 40,
                               "levels": {"load": "ok", "pipeline": {"fill-mask": "ok"}}, "seconds": 0.5,
                               "level_seconds": {"load": 0.1}},
                  "FooForX": failed}}}
    reports.write_reports(tmp_path, report)
    _check_reports(tmp_path)


def test_built_reports_use_declared_keys(built: Path) -> None:
    _check_reports(built / "reports")
