"""`tinymodels summary update`: upstream's merge rules, on upstream's own summary file."""

from __future__ import annotations

import json
import shutil
import stat
from pathlib import Path

import pytest

from conftest import UPSTREAM_SUMMARY as UPSTREAM
from tinymodels.ci import summary
from tinymodels.cli import main
from tinymodels.errors import ReportError
from tinymodels.run import reports


def upstream_update(data: dict, new_data: dict) -> str:
    """transformers' `update_tiny_model_summary_file`, minus file I/O: the oracle."""
    data = json.loads(json.dumps(data))
    for key, value in new_data.items():
        if key not in data:
            data[key] = value
        else:
            for attr in ["tokenizer_classes", "processor_classes", "model_classes"]:
                data[key][attr].extend(value[attr])
            new_sha = value.get("sha", None)
            if new_sha is not None:
                data[key]["sha"] = new_sha
    updated_data = {}
    for key in sorted(data.keys()):
        updated_data[key] = {}
        for attr, value in data[key].items():
            updated_data[key][attr] = sorted(set(value)) if attr != "sha" else value
    return json.dumps(updated_data, indent=4, ensure_ascii=False)


def build_report_dir(root: Path) -> Path:
    """A build's report directory whose summary overlaps upstream's (one new arch, one new sha)."""
    report = {
        "BertConfig": {
            "processor": {"BertTokenizerFast": "BertTokenizerFast", "BertTokenizer": "BertTokenizer"},
            "pytorch": {
                "BertModel": {"model": "BertModel", "checkpoint": "bert/BertModel", "sha": "f" * 40},
                "BertBrandNewHead": {"model": "BertBrandNewHead", "checkpoint": "bert/BertBrandNewHead"},
                "BertForMaskedLM": {"model": None, "checkpoint": None, "error": ["boom", None]},
            },
            "vocab_size": 1024,
            "model_type": "bert",
        },
        "ViTConfig": {
            "processor": {"ViTImageProcessorFast": "ViTImageProcessorFast"},
            "pytorch": {"ViTModel": {"model": "ViTModel", "checkpoint": "vit/ViTModel"}},  # no sha
            "model_type": "vit",
        },
    }
    report_dir = root / "out" / "reports"
    reports.write_reports(report_dir, report)
    return report_dir


@pytest.fixture
def upstream_copy(tmp_path) -> Path:
    target = tmp_path / "repo" / "tests" / "utils" / "tiny_model_summary.json"
    target.parent.mkdir(parents=True)
    shutil.copyfile(UPSTREAM, target)
    return target


def test_merging_upstream_into_itself_is_a_byte_noop(upstream_copy, tmp_path, capsys):
    source = tmp_path / "new.json"
    shutil.copyfile(UPSTREAM, source)
    before = upstream_copy.read_bytes()
    assert not before.endswith(b"\n")  # upstream's json.dump writes no final newline
    assert main(["summary", "update", "--into", str(upstream_copy), "--from", str(source)]) == 0
    assert upstream_copy.read_bytes() == before
    entries = len(json.loads(before))
    assert f"0 added, 0 updated, {entries} unchanged (no change to the file)" in capsys.readouterr().out


def test_update_from_a_report_dir_matches_upstreams_function(upstream_copy, tmp_path, capsys):
    report_dir = build_report_dir(tmp_path)
    new = json.loads((report_dir / reports.SUMMARY).read_text(encoding="utf-8"))
    expected = upstream_update(json.loads(UPSTREAM.read_text(encoding="utf-8")), new)

    upstream_copy.chmod(0o640)
    # --from accepts the build output directory (it finds reports/tiny_model_summary.json).
    assert main(["summary", "update", "--into", str(upstream_copy), "--from", str(report_dir.parent)]) == 0
    text = upstream_copy.read_text(encoding="utf-8")
    assert text == expected
    data = json.loads(text)
    assert data["BertModel"]["sha"] == "f" * 40
    assert data["BertModel"]["tokenizer_classes"] == ["BertTokenizer", "BertTokenizerFast"]
    assert data["ViTModel"]["sha"] == json.loads(UPSTREAM.read_text(encoding="utf-8"))["ViTModel"]["sha"]
    assert "ViTImageProcessorFast" in data["ViTModel"]["processor_classes"]
    assert "BertForMaskedLM" in data  # upstream's old entry stays; a failed build adds nothing
    assert list(data) == sorted(data)

    out = capsys.readouterr().out
    assert "1 added, 2 updated, 0 unchanged" in out
    assert "added    BertBrandNewHead" in out
    assert "updated  BertModel: sha " in out and "-> fffffff" in out
    assert "updated  ViTModel: +processor_classes: ViTImageProcessorFast" in out
    # The atomic rewrite keeps the file's permissions (the temporary file is 0600).
    assert stat.S_IMODE(upstream_copy.stat().st_mode) == 0o640


def test_dry_run_writes_nothing(upstream_copy, tmp_path, capsys):
    before = upstream_copy.read_bytes()
    report_dir = build_report_dir(tmp_path)
    assert main(["summary", "update", "--into", str(upstream_copy), "--from", str(report_dir), "--dry-run"]) == 0
    assert upstream_copy.read_bytes() == before
    assert capsys.readouterr().out.startswith("(dry run) ")


def test_rules_on_small_inputs():
    old = {"B": {"tokenizer_classes": ["T2", "T1", "T1"], "processor_classes": [], "model_classes": ["B"],
                 "sha": "old"},
           "A": {"tokenizer_classes": [], "processor_classes": ["P"], "model_classes": ["A"], "sha": "keep"}}
    new = {"A": {"tokenizer_classes": ["T3"], "processor_classes": ["P"], "model_classes": ["A"], "sha": None},
           "C": {"tokenizer_classes": ["Z", "Y"], "processor_classes": [], "model_classes": ["C"]}}
    merged = summary.merge(old, new)
    assert list(merged) == ["A", "B", "C"]
    assert merged["A"] == {"tokenizer_classes": ["T3"], "processor_classes": ["P"], "model_classes": ["A"],
                           "sha": "keep"}  # a null sha does not replace
    assert merged["B"]["tokenizer_classes"] == ["T1", "T2"]  # normalised even when untouched
    assert merged["C"]["tokenizer_classes"] == ["Y", "Z"]  # added whole, then sorted
    assert old["B"]["tokenizer_classes"] == ["T2", "T1", "T1"]  # inputs untouched


def test_creates_the_target_and_keeps_a_trailing_newline_if_present(tmp_path):
    target = tmp_path / "new" / "dir" / "summary.json"
    new = {"M": {"tokenizer_classes": [], "processor_classes": ["ü"], "model_classes": ["M"], "sha": "s"}}
    result = summary.update_summary_file(target, new)
    assert result.created and result.added == ["M"] and result.rewritten
    text = target.read_text(encoding="utf-8")
    assert text == summary.dumps(new) and not text.endswith("\n") and "ü" in text
    assert stat.S_IMODE(target.stat().st_mode) & 0o044  # readable by others per umask, not 0600

    target.write_text(text + "\n", encoding="utf-8")
    result = summary.update_summary_file(target, new)
    assert not result.rewritten and result.unchanged == ["M"]
    assert target.read_text(encoding="utf-8") == text + "\n"


def test_unnormalised_target_is_reported_as_normalised(tmp_path, capsys):
    target = tmp_path / "summary.json"
    target.write_text(json.dumps({"Z": {"model_classes": ["Z", "Z"]}, "A": {"model_classes": ["A"]}}),
                      encoding="utf-8")
    empty = tmp_path / "empty.json"
    empty.write_text("{}", encoding="utf-8")
    assert main(["summary", "update", "--into", str(target), "--from", str(empty)]) == 0
    captured = capsys.readouterr()
    assert "formatting normalised" in captured.out and "empty" in captured.err
    assert json.loads(target.read_text(encoding="utf-8")) == {"A": {"model_classes": ["A"]},
                                                              "Z": {"model_classes": ["Z"]}}


@pytest.mark.parametrize("content, message", [
    ("not json", "not valid JSON"),
    ('["list"]', "expected a JSON object"),
    ('{"A": {"model_classes": "A"}}', "A.model_classes must be a list"),
    ('{"A": {"sha": 1}}', "A.sha must be a string or null"),
])
def test_malformed_inputs_exit_5_and_leave_the_target(tmp_path, capsys, content, message):
    target = tmp_path / "summary.json"
    target.write_text("{}", encoding="utf-8")
    bad = tmp_path / "bad.json"
    bad.write_text(content, encoding="utf-8")
    assert main(["summary", "update", "--into", str(target), "--from", str(bad)]) == 5
    assert message in capsys.readouterr().err
    assert target.read_text(encoding="utf-8") == "{}"
    # A malformed target is refused the same way.
    assert main(["summary", "update", "--into", str(bad), "--from", str(target)]) == 5
    assert bad.read_text(encoding="utf-8") == content


def test_missing_source_exit_5(tmp_path, capsys):
    assert main(["summary", "update", "--into", str(tmp_path / "s.json"), "--from", str(tmp_path / "nope")]) == 5
    assert "no such file or directory" in capsys.readouterr().err
    assert not (tmp_path / "s.json").exists()


def test_unwritable_target_exit_3(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("", encoding="utf-8")
    new = tmp_path / "new.json"
    new.write_text('{"A": {"model_classes": ["A"]}}', encoding="utf-8")
    # The parent of --into is a regular file: the directory cannot be created.
    assert main(["summary", "update", "--into", str(blocker / "s.json"), "--from", str(new)]) == 3
    assert "cannot write" in capsys.readouterr().err


def test_into_is_required(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["summary", "update"])
    assert exc.value.code == 2
    assert "--into" in capsys.readouterr().err


def test_summary_validation_function():
    with pytest.raises(ReportError):
        summary.validate_summary({"A": []}, "x")


def test_counts_for_the_action_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    """`summary counts` feeds the composite action's outputs through $GITHUB_OUTPUT."""
    from tinymodels.cli import main
    from tinymodels.run import reports

    report = {
        "AConfig": {"processor": {}, "pytorch": {
            "AModel": {"model": "AModel", "checkpoint": "a/AModel"},
            "AForX": {"model": None, "checkpoint": None, "error": ["boom", None]}}},
        "BConfig": {"processor": {}, "pytorch": {}, "error": ["no architecture", None]},
    }
    reports.write_reports(tmp_path / "reports", report)
    out = tmp_path / "github_output"
    monkeypatch.setenv("GITHUB_OUTPUT", str(out))
    assert main(["summary", "counts", str(tmp_path / "reports")]) == 0
    expected = f"report-dir={tmp_path / 'reports'}\nbuilt=1\nfailed=2\n"
    assert capsys.readouterr().out == expected
    assert out.read_text() == expected
