"""The coverage table: totals over every built pair, the auto-mapped headline, per-type rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from conftest import run_cli
from tinymodels.ci.coverage import auto_mapped_line, render_coverage
from tinymodels.config.discover import auto_mapped_pairs


def _ok(params: int = 10) -> dict[str, Any]:
    return {"model": "X", "checkpoint": "x", "params": params, "bytes": params * 4}


def _failed(category: str) -> dict[str, Any]:
    return {"model": None, "checkpoint": None, "error": [f"[{category}] boom | pipe"], "category": category}


def test_auto_mapped_pairs_cover_every_mapping_and_name_config_classes() -> None:
    pairs = auto_mapped_pairs()
    assert len(pairs) == len(set(pairs)) > 1000
    assert ("bert", "BertConfig", "BertForMaskedLM") in pairs
    # An alias type is looked up under its config class, the key the report uses.
    assert ("gpt-sw3", "GPT2Config", "GPT2LMHeadModel") in pairs


def test_headline_counts_alias_pairs_and_missing_libraries() -> None:
    pairs = [("gpt2", "GPT2Config", "GPT2Model"), ("gpt-sw3", "GPT2Config", "GPT2Model"),
             ("granite_speech", "GraniteSpeechConfig", "GraniteSpeechForConditionalGeneration"),
             ("vit", "ViTConfig", "ViTModel")]
    report = {
        "GPT2Config": {"model_type": "gpt2", "pytorch": {"GPT2Model": _ok()}},
        "GraniteSpeechConfig": {"model_type": "granite_speech",
                                "pytorch": {"GraniteSpeechForConditionalGeneration": _failed("missing-dependency")}},
        "ViTConfig": {"model_type": "vit", "pytorch": {"ViTModel": _failed("forward")}},
    }
    line = auto_mapped_line(report, pairs)
    assert line.startswith("**2 / 4**") and "(**50.0%**)" in line
    assert "66.7% of the 3 whose libraries install here" in line


def test_table_rows_categories_and_escaped_reasons() -> None:
    report = {
        "BertConfig": {"model_type": "bert", "pytorch": {"BertModel": _ok(100), "BertForMaskedLM": _failed("forward")}},
        "ViTConfig": {"model_type": "vit", "pytorch": {"ViTModel": _ok(50)}},
    }
    text = render_coverage(report)
    assert "**2 / 3** registered" in text and "(**66.7%**)" in text
    assert "| forward | 1 |" in text
    assert "| `bert` | 2 | 1 | 1 | forward ×1 | [forward] boom \\| pipe |" in text
    assert "auto model mappings" not in text  # only with auto_pairs


def test_summary_coverage_cli_writes_the_table(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "coverage.md"
    proc = run_cli("summary", "coverage", str(built / "reports"), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "pairs of transformers' auto model mappings validated" in text
    assert "| `bert` | 9 | 9 | 0 |" in text
    missing = run_cli("summary", "coverage", str(tmp_path / "nowhere"))
    assert missing.returncode != 0 and "nowhere" in missing.stderr


def _report_dir(tmp_path: Path) -> Path:
    from tinymodels.run.reports import write_reports

    report = {"BertConfig": {"model_type": "bert", "processor": {},
                             "pytorch": {"BertModel": _ok(), "BertForMaskedLM": _failed("forward")}}}
    write_reports(tmp_path / "reports", report)
    return tmp_path / "reports"


def test_partial_run_leaves_the_committed_table_and_the_pr_body_quotes_its_headline(tmp_path: Path) -> None:
    table = tmp_path / "coverage.md"
    table.write_text("# Coverage\n\nthe full table\n")
    run_table = tmp_path / "run-coverage.md"
    proc = run_cli("summary", "coverage", str(_report_dir(tmp_path)), "-o", str(run_table), "--refresh", str(table))
    assert proc.returncode == 0, proc.stderr
    assert table.read_text() == "# Coverage\n\nthe full table\n"
    assert "a partial run" in proc.stderr
    assert "| `bert` | 2 | 1 | 1 |" in run_table.read_text()

    body = tmp_path / "body.md"
    proc = run_cli("summary", "pr-body", "--coverage", str(run_table), "--run-url", "https://example.test/run/1",
                   "-o", str(body))
    assert proc.returncode == 0, proc.stderr
    text = body.read_text()
    assert text.startswith("Tiny models rebuilt by https://example.test/run/1.")
    assert "**1 / 2** registered (model type, architecture) pairs built and validated (**50.0%**)" in text
    assert "pairs of transformers' auto model mappings validated" in text
    assert "## Per model type" not in text, "only the headline, not the whole table"
    # A file that is no coverage table is an error, not an empty body.
    proc = run_cli("summary", "pr-body", "--coverage", str(tmp_path / "nowhere.md"), "-o", str(body))
    assert proc.returncode == 5 and "cannot read the coverage table" in proc.stderr


def test_pr_token_note_in_the_job_summary(tmp_path: Path) -> None:
    summary = tmp_path / "step_summary.md"
    proc = run_cli("summary", "note", "--pr-token", "github-token", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0, proc.stderr
    text = summary.read_text()
    assert "no CI runs on that PR" in text and "Allow GitHub Actions to create and approve pull requests" in text
    assert "PR_TOKEN" in text and "TINY_MODELS_APP_ID" in text
    proc = run_cli("summary", "note", "--pr-token", "app", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert proc.returncode == 0 and "CI runs on it" in summary.read_text()
    assert run_cli("summary", "note", "--pr-token", "none").returncode == 2
