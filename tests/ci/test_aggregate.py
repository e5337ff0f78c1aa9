"""`tinymodels aggregate`: shard reports merge into exactly what one build writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from tinymodels.ci import aggregate
from tinymodels.cli import main
from tinymodels.errors import ReportError
from tinymodels.run import reports

REPORT_FILES = (reports.CREATION_REPORT, reports.SUMMARY, reports.FAILED_REPORT,
                reports.SIMPLE_REPORT, reports.SIMPLE_FAILED_REPORT)


def creation_entry(model_type: str, ok: tuple[str, ...] = (), failed: dict[str, str] | None = None,
                   processors: tuple[str, ...] = ("BertTokenizer", "BertTokenizerFast")) -> dict:
    """A creation-report entry shaped as documented in tinymodels.run.reports."""
    pytorch: dict = {}
    for i, arch in enumerate(ok):
        pytorch[arch] = {"model": arch, "checkpoint": f"{model_type}/{arch}", "params": 1000 + i,
                         "bytes": 4096 * (i + 1), "seconds": 0.5, "sha": f"{i:040x}"}
    for arch, msg in (failed or {}).items():
        pytorch[arch] = {"model": None, "checkpoint": None, "error": [msg, "Traceback (most recent call last): ..."],
                         "category": "forward"}
    return {"processor": {p: p for p in processors}, "pytorch": pytorch, "vocab_size": 1024,
            "model_type": model_type, "warnings": ["ünïcode warning"]}


FULL = {
    "BertConfig": creation_entry("bert", ("BertModel", "BertForMaskedLM"), {"BertForPreTraining": "shape | mismatch"}),
    "GPT2Config": creation_entry("gpt2", ("GPT2Model", "GPT2LMHeadModel"), processors=("GPT2TokenizerFast",)),
    "T5Config": creation_entry("t5", ("T5Model",), processors=("T5TokenizerFast",)),
    "ViTConfig": creation_entry("vit", (), {"ViTModel": "no processor"}, processors=("ViTImageProcessor",)),
}


def write_partial(root: Path, keys: list[str], uploads: dict[str, str] | None = None) -> Path:
    """A shard's report directory, written the way a shard's build writes it."""
    report_dir = root / "reports"
    reports.write_reports(report_dir, {k: FULL[k] for k in keys})
    if uploads:
        (report_dir / reports.FAILED_UPLOADS).write_text(reports.dump_json(uploads), encoding="utf-8")
    return report_dir


def test_merge_is_byte_identical_to_a_single_process_build(tmp_path):
    # Interleaved keys across shards: order of partials and keys must not matter.
    a = write_partial(tmp_path / "shard-0", ["T5Config", "BertConfig"])
    b = write_partial(tmp_path / "shard-1", ["ViTConfig", "GPT2Config"])
    single = tmp_path / "single" / "reports"
    reports.write_reports(single, FULL)

    assert main(["aggregate", str(b), str(a), "-o", str(tmp_path / "merged")]) == 0
    for name in REPORT_FILES:
        assert (tmp_path / "merged" / name).read_bytes() == (single / name).read_bytes(), name
    assert not (tmp_path / "merged" / reports.FAILED_UPLOADS).exists()


def test_accepts_output_dirs_report_files_and_artifact_parent_dirs(tmp_path):
    write_partial(tmp_path / "artifacts" / "report-0", ["BertConfig"])
    write_partial(tmp_path / "artifacts" / "report-1", ["GPT2Config"])
    (tmp_path / "artifacts" / "unrelated").mkdir()
    t5 = write_partial(tmp_path / "t5-out", ["T5Config"])
    vit = write_partial(tmp_path / "vit-out", ["ViTConfig"])
    # parent of shard artifacts, an output dir, a report file; the same file twice is one partial
    merged = aggregate.merge_partials([tmp_path / "artifacts", tmp_path / "t5-out", vit / reports.CREATION_REPORT,
                                       vit])
    assert list(merged.report) == sorted(FULL)
    assert merged.report == FULL
    assert len(merged.sources) == 4 and merged.duplicates == []
    assert t5 / reports.CREATION_REPORT in merged.sources


def test_identical_duplicates_are_kept_once_with_a_warning(tmp_path, capsys):
    a = write_partial(tmp_path / "a", ["BertConfig", "GPT2Config"])
    b = write_partial(tmp_path / "b", ["GPT2Config", "T5Config"])
    assert main(["aggregate", str(a), str(b), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "'GPT2Config' appears identically" in err
    out = json.loads((tmp_path / "out" / reports.CREATION_REPORT).read_text(encoding="utf-8"))
    assert list(out) == ["BertConfig", "GPT2Config", "T5Config"]


def test_conflicting_partials_fail_and_write_nothing(tmp_path, capsys):
    a = write_partial(tmp_path / "a", ["BertConfig"])
    b = tmp_path / "b" / "reports"
    other = json.loads(json.dumps(FULL["BertConfig"]))
    other["pytorch"]["BertModel"] = {"model": None, "checkpoint": None, "error": ["timeout", None]}
    reports.write_reports(b, {"BertConfig": other})
    out = tmp_path / "out"
    assert main(["aggregate", str(a), str(b), "-o", str(out)]) == 5
    err = capsys.readouterr().err
    assert "conflicting partial reports: config class 'BertConfig'" in err
    assert str(a / reports.CREATION_REPORT) in err and str(b / reports.CREATION_REPORT) in err
    assert "pytorch.BertModel" in err
    assert not out.exists()


@pytest.mark.parametrize("content, message", [
    ("{oops", "not valid JSON"),
    ("[]", "expected a JSON object"),
    ('{"BertConfig": "x"}', "entry must be a JSON object"),
    ('{"BertConfig": {"pytorch": []}}', "'pytorch' must be a JSON object"),
    ('{"BertConfig": {"pytorch": {"BertModel": {"checkpoint": "bert/BertModel"}}}}', "neither 'model' nor 'error'"),
    ('{"BertConfig": {"model_type": 3}}', "'model_type' must be a string"),
])
def test_malformed_partials_are_rejected(tmp_path, content, message):
    good = write_partial(tmp_path / "good", ["BertConfig"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / reports.CREATION_REPORT).write_text(content, encoding="utf-8")
    out = tmp_path / "out"
    out.mkdir()
    (out / reports.SIMPLE_REPORT).write_text("previous\n", encoding="utf-8")
    with pytest.raises(ReportError, match=message):
        aggregate.aggregate([good, bad], out)
    # Nothing written: the earlier report is intact and no new file appeared.
    assert [p.name for p in out.iterdir()] == [reports.SIMPLE_REPORT]
    assert (out / reports.SIMPLE_REPORT).read_text(encoding="utf-8") == "previous\n"


def test_missing_partial_is_an_error(tmp_path):
    with pytest.raises(ReportError, match="no such file or directory"):
        aggregate.merge_partials([tmp_path / "absent"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReportError, match="no tiny_model_creation_report.json"):
        aggregate.merge_partials([tmp_path / "empty"])


def test_failed_uploads_are_merged_and_conflicts_rejected(tmp_path):
    a = write_partial(tmp_path / "a", ["BertConfig"], {"bert/BertModel": "Failed to upload bert/BertModel. X: y"})
    b = write_partial(tmp_path / "b", ["GPT2Config"], {"gpt2/GPT2Model": "Failed to upload gpt2/GPT2Model. X: z"})
    out = tmp_path / "out"
    aggregate.aggregate([b, a], out)
    uploads = json.loads((out / reports.FAILED_UPLOADS).read_text(encoding="utf-8"))
    assert list(uploads) == ["bert/BertModel", "gpt2/GPT2Model"]

    c = write_partial(tmp_path / "c", ["T5Config"], {"bert/BertModel": "Failed differently"})
    with pytest.raises(ReportError, match="failed upload 'bert/BertModel' differs"):
        aggregate.merge_partials([a, c])
    (c / reports.FAILED_UPLOADS).write_text('["not", "a", "dict"]', encoding="utf-8")
    with pytest.raises(ReportError, match="failed_uploads.json: expected a JSON object"):
        aggregate.merge_partials([c])

    # Re-aggregating without failed uploads removes the stale list.
    aggregate.aggregate([write_partial(tmp_path / "d", ["T5Config"])], out)
    assert not (out / reports.FAILED_UPLOADS).exists()


def test_aggregate_writes_the_step_summary(tmp_path, monkeypatch):
    a = write_partial(tmp_path / "a", ["BertConfig", "ViTConfig"])
    summary_file = tmp_path / "step_summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary_file))
    assert main(["aggregate", str(a), "-o", str(tmp_path / "out")]) == 0
    text = summary_file.read_text(encoding="utf-8")
    assert "2 model types" in text and "| `bert` | 2 |" in text and "<details>" in text


def test_subprocess_exit_codes_and_stderr(tmp_path):
    good = write_partial(tmp_path / "good", ["BertConfig"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / reports.CREATION_REPORT).write_text("{truncated", encoding="utf-8")

    proc = run_cli("aggregate", str(good), str(bad), "-o", "merged", cwd=tmp_path)
    assert proc.returncode == 5
    assert proc.stderr.startswith("tinymodels: error: ") and "not valid JSON" in proc.stderr
    assert str(bad / reports.CREATION_REPORT) in proc.stderr
    assert not (tmp_path / "merged").exists()

    proc = run_cli("aggregate", "-o", "merged", cwd=tmp_path)  # no partials: a usage error
    assert proc.returncode == 2

    summary_file = tmp_path / "summary.md"
    proc = run_cli("aggregate", str(good), "-o", "merged", cwd=tmp_path,
                   env={"GITHUB_STEP_SUMMARY": str(summary_file)})
    assert proc.returncode == 0, proc.stderr
    assert "merged 1 partial report(s)" in proc.stderr and proc.stdout == ""
    assert (tmp_path / "merged" / reports.CREATION_REPORT).read_bytes() == (good / reports.CREATION_REPORT).read_bytes()
    assert "`bert`" in summary_file.read_text(encoding="utf-8")


def _download_layout(root: Path, shards: list[list[str]]) -> Path:
    """`partials/` as download-artifact (v5+, pattern, merge-multiple: false) leaves it:
    one matched artifact is extracted straight into the path, several each into `path/<name>/`."""
    partials = root / "partials"
    if len(shards) == 1:
        reports.write_reports(partials, {k: FULL[k] for k in shards[0]})
    else:
        for i, keys in enumerate(shards):
            reports.write_reports(partials / f"reports-{i}", {k: FULL[k] for k in keys})
    return partials


@pytest.mark.parametrize("shards", [
    [sorted(FULL)],
    [["BertConfig", "T5Config"], ["GPT2Config", "ViTConfig"]],
    [[k] for k in sorted(FULL)],
], ids=["1-shard", "2-shards", "4-shards"])
def test_the_download_path_works_for_any_shard_count(tmp_path, shards):
    partials = _download_layout(tmp_path, shards)
    proc = run_cli("aggregate", str(partials), "-o", str(tmp_path / "merged"))
    assert proc.returncode == 0, proc.stderr
    single = tmp_path / "single"
    reports.write_reports(single, FULL)
    for name in REPORT_FILES:
        assert (tmp_path / "merged" / name).read_bytes() == (single / name).read_bytes(), name
    assert f"merged {len(shards)} partial report(s)" in proc.stderr


def test_merge_multiple_of_artifacts_with_a_shard_directory_each(tmp_path):
    # merge-multiple puts every artifact's tree into the same path: fine when each carries its own dir.
    for i, key in enumerate(sorted(FULL)):
        reports.write_reports(tmp_path / "partials" / f"shard-{i}" / "reports", {key: FULL[key]})
    merged = aggregate.merge_partials([tmp_path / "partials"])
    assert merged.report == FULL and len(merged.sources) == 4


def test_a_glob_over_a_one_artifact_download_is_refused_clearly(tmp_path):
    partials = _download_layout(tmp_path, [sorted(FULL)])
    files = sorted(str(p) for p in partials.iterdir())  # what `partials/*` expands to
    proc = run_cli("aggregate", *files, "-o", str(tmp_path / "merged"))
    assert proc.returncode == 5
    assert "not a tiny_model_creation_report.json; pass the directory" in proc.stderr
    assert not (tmp_path / "merged").exists()


def test_an_artifact_without_a_creation_report_is_skipped_with_a_warning(tmp_path, capsys):
    partials = _download_layout(tmp_path, [["BertConfig"], ["GPT2Config"]])
    (partials / "reports-2").mkdir()  # a shard that died before its first report
    merged = aggregate.merge_partials([partials])
    assert set(merged.report) == {"BertConfig", "GPT2Config"}
    assert "reports-2: no tiny_model_creation_report.json; skipping it" in capsys.readouterr().err
