"""Report files keep upstream's exact shapes (checked against upstream's real summary)."""

from __future__ import annotations

import json
from pathlib import Path

from conftest import UPSTREAM_SUMMARY
from tinymodels.run import reports


def _shape(entry: dict) -> dict:
    return {k: type(v).__name__ for k, v in entry.items()}


def test_summary_shape_matches_upstream(built: Path) -> None:
    upstream = json.loads(UPSTREAM_SUMMARY.read_text())
    ours = json.loads((built / "reports" / reports.SUMMARY).read_text())
    upstream_keys = {k for e in upstream.values() for k in e}
    assert ours and upstream
    for arch, entry in ours.items():
        assert set(entry) <= upstream_keys
        assert {"tokenizer_classes", "processor_classes", "model_classes"} <= set(entry)
        assert entry["model_classes"] == [arch]
        for key in ("tokenizer_classes", "processor_classes", "model_classes"):
            assert entry[key] == sorted(entry[key]) and all(isinstance(x, str) for x in entry[key])
    # Same classes as upstream lists for the same architecture.
    assert ours["BertModel"]["tokenizer_classes"][0] in upstream["BertModel"]["tokenizer_classes"] + ["BertTokenizer"]
    assert list(ours) == sorted(ours)


def test_creation_and_simple_reports(built: Path) -> None:
    rdir = built / "reports"
    creation = json.loads((rdir / reports.CREATION_REPORT).read_text())
    entry = creation["BertConfig"]
    assert entry["processor"] == {"BertTokenizer": "BertTokenizer"}
    info = entry["pytorch"]["BertModel"]
    assert info["model"] == "BertModel" and info["checkpoint"] == "bert/BertModel"
    lines = (rdir / reports.SIMPLE_REPORT).read_text().splitlines()
    assert "BertModel: OK" in lines and "ViTModel: OK" in lines
    assert (rdir / reports.SIMPLE_FAILED_REPORT).read_text() == ""
    assert json.loads((rdir / reports.FAILED_REPORT).read_text()) == {}
    text = (rdir / reports.SUMMARY).read_text()
    assert text.startswith("{\n    \"")  # indent 4 as upstream


def test_failed_entries_shape(tmp_path: Path) -> None:
    report = {
        "FooConfig": {
            "processor": {"FooTokenizer": "FooTokenizer"},
            "pytorch": {
                "FooModel": {"model": "FooModel", "checkpoint": "foo/FooModel"},
                "FooForX": {"model": None, "checkpoint": None, "error": ["[forward] boom\nmore", "Traceback"],
                            "category": "forward"},
            },
            "warnings": ["careful"],
        }
    }
    reports.write_reports(tmp_path, report)
    failed = json.loads((tmp_path / reports.FAILED_REPORT).read_text())
    assert failed == {"FooConfig": {"warnings": ["careful"], "pytorch": {"FooForX": {"error": ["[forward] boom\nmore", "Traceback"]}}}}
    assert (tmp_path / reports.SIMPLE_FAILED_REPORT).read_text() == "FooForX: [forward] boom more\n"
    summary = json.loads((tmp_path / reports.SUMMARY).read_text())
    assert summary == {"FooModel": {"tokenizer_classes": ["FooTokenizer"], "processor_classes": [],
                                    "model_classes": ["FooModel"]}}
