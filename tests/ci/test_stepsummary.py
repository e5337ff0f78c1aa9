"""The Markdown job summary: totals, failures, one row per model type, robust to any report."""

from __future__ import annotations

from pathlib import Path

from tinymodels.ci import stepsummary
from tinymodels.cli import main
from tinymodels.run import reports


def ok(model_type: str, arch: str, **extra) -> dict:
    return {"model": arch, "checkpoint": f"{model_type}/{arch}", **extra}


def failed(msg: str, category: str = "forward") -> dict:
    return {"model": None, "checkpoint": None, "error": [msg, "Traceback ..."], "category": category}


REPORT = {
    "BertConfig": {
        "processor": {"BertTokenizer": "BertTokenizer"},
        "pytorch": {
            "BertModel": ok("bert", "BertModel", params=1200, bytes=2 * 1024 * 1024, seconds=1.5,
                            repo_id="org/tiny-random-BertModel"),
            "BertForMaskedLM": ok("bert", "BertForMaskedLM", params=1_500_000, bytes=1024 * 1024, seconds=2.0),
        },
        "model_type": "bert",
        "seconds": 70.0,
    },
    "GPT2Config": {  # no params/bytes/seconds at all: tolerated
        "processor": {},
        "pytorch": {"GPT2Model": ok("gpt2", "GPT2Model"), "GPT2DoubleHeadsModel": failed("bad | <b>shape</b>\nline2")},
        "model_type": "gpt2",
    },
    "NoArchConfig": {"processor": {}, "pytorch": {}, "model_type": "no_arch",
                     "error": ["no architecture registered", None], "category": "skipped"},
    "LegacyConfig": {"pytorch": {"LegacyModel": {"model": "LegacyModel", "checkpoint": "x/LegacyModel"}}},
}


def test_totals_failures_and_rows():
    md = stepsummary.render_markdown(REPORT, env={})
    lines = md.splitlines()
    assert lines[0] == "## Tiny models"
    assert lines[2] == ("❌ **4 model types**: 4 architectures built, 2 failed (in 2 model types) "
                        "· 3.0 MiB on disk · 1m 10s build time")
    # Failures come in a collapsible block, before the per-type table.
    details, table = md.index("<details>"), md.index("| model type | built |")
    assert details < table and "<summary>2 failures</summary>" in md
    assert "| `gpt2` | `GPT2DoubleHeadsModel` | forward | bad \\| \\<b\\>shape\\</b\\> line2 |" in md
    assert "| `no_arch` | `NoArchConfig` | skipped | no architecture registered |" in md
    rows = [line for line in lines[lines.index("| model type | built | failed | params | size on disk "
                                                "| link or failure reason |"):] if line.startswith("| `")]
    assert [r.split(" | ")[0] for r in rows] == ["| `LegacyConfig`", "| `bert`", "| `gpt2`", "| `no_arch`"]
    assert rows[1] == ("| `bert` | 2 | 0 | 1.2K–1.5M | 3.0 MiB | "
                       "[BertModel](https://huggingface.co/org/tiny-random-BertModel), `BertForMaskedLM` |")
    assert rows[2] == "| `gpt2` | 1 | ❌ 1 | — | — | bad \\| \\<b\\>shape\\</b\\> line2 |"


def test_hub_endpoint_and_empty_report():
    md = stepsummary.render_markdown(REPORT, env={"HF_ENDPOINT": "http://127.0.0.1:8080/"})
    assert "(http://127.0.0.1:8080/org/tiny-random-BertModel)" in md
    assert "No model types" in stepsummary.render_markdown({}, env={})
    assert stepsummary.render_markdown({"BertConfig": REPORT["BertConfig"]}, env={}).splitlines()[2].startswith("✅ ")


def test_hundreds_of_types_stay_bounded():
    long_msg = "x" * 5000
    report = {f"T{i:03d}Config": {"pytorch": {f"T{i}Model": failed(long_msg), f"T{i}Ok": ok(f"t{i}", f"T{i}Ok")},
                                  "model_type": f"t{i:03d}"} for i in range(600)}
    md = stepsummary.render_markdown(report, env={})
    assert md.count("\n| `t") == 600 + stepsummary.MAX_FAILURE_ROWS
    assert "… and 100 more: see `failed_report.json`." in md
    assert len(md.encode()) < 1024 * 1024  # GitHub's step summary limit
    assert "x" * (stepsummary.MAX_REASON_CHARS + 1) not in md


def test_write_step_summary(tmp_path, capsys):
    report_dir = tmp_path / "out" / "reports"
    reports.write_reports(report_dir, REPORT)
    target = tmp_path / "summary.md"
    target.write_text("# earlier step\n", encoding="utf-8")
    env = {"GITHUB_STEP_SUMMARY": str(target)}
    assert stepsummary.write_step_summary(report_dir, env=env) is True
    assert stepsummary.write_step_summary(report_dir.parent, env=env) is True  # the output dir works too
    text = target.read_text(encoding="utf-8")
    assert text.startswith("# earlier step\n## Tiny models") and text.count("## Tiny models") == 2

    assert stepsummary.write_step_summary(report_dir, env={}) is False
    # A missing or broken report only warns: a summary never fails a finished build.
    assert stepsummary.write_step_summary(tmp_path / "nothing", env=env) is False
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / reports.CREATION_REPORT).write_text("{", encoding="utf-8")
    assert stepsummary.write_step_summary(tmp_path / "broken", env=env) is False
    assert capsys.readouterr().err.count("no job summary written") == 2
    assert target.read_text(encoding="utf-8") == text


def test_cli_summary_markdown(tmp_path, capsys):
    report_dir = tmp_path / "reports"
    reports.write_reports(report_dir, REPORT)
    assert main(["summary", "markdown", str(report_dir)]) == 0
    assert capsys.readouterr().out == stepsummary.render_markdown(REPORT)
    assert main(["summary", "markdown", str(tmp_path / "missing")]) == 5
    assert "no such file or directory" in capsys.readouterr().err


def test_human_units():
    assert [stepsummary.human_count(n) for n in (999, 1000, 2_500_000, 3 * 10**9)] == ["999", "1.0K", "2.5M", "3.0B"]
    assert [stepsummary.human_bytes(n) for n in (10, 1536, 5 * 1024**3)] == ["10 B", "1.5 KiB", "5.0 GiB"]
    assert [stepsummary.human_seconds(s) for s in (4.25, 75, 3725)] == ["4.2s", "1m 15s", "1h 02m"]


def test_path_type_is_accepted(tmp_path):
    reports.write_reports(tmp_path, REPORT)
    assert "`bert`" in stepsummary.render_report_dir(Path(tmp_path), env={})
