"""`tinymodels plan`: LPT balancing, timings, the matrix JSON and $GITHUB_OUTPUT."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from tinymodels.ci import plan
from tinymodels.cli import main
from tinymodels.errors import ReportError, UsageError
from tinymodels.run import reports


def creation_entry(model_type: str, archs: dict[str, float | None], entry_seconds: float | None = None) -> dict:
    """A creation-report entry shaped as documented in tinymodels.run.reports."""
    pytorch = {}
    for arch, seconds in archs.items():
        info = {"model": arch, "checkpoint": f"{model_type}/{arch}", "params": 1000, "bytes": 4096}
        if seconds is not None:
            info["seconds"] = seconds
        pytorch[arch] = info
    entry = {"processor": {}, "pytorch": pytorch, "vocab_size": 1024, "model_type": model_type}
    if entry_seconds is not None:
        entry["seconds"] = entry_seconds
    return entry


def write_timings(tmp_path: Path, seconds: dict[str, float]) -> Path:
    report = {f"{t.title()}Config": creation_entry(t, {f"{t.title()}Model": None}, s) for t, s in seconds.items()}
    path = tmp_path / "prev" / "reports" / reports.CREATION_REPORT
    path.parent.mkdir(parents=True)
    path.write_text(reports.dump_json(report), encoding="utf-8")
    return path


# --- assignment -------------------------------------------------------------------------------


def test_lpt_assigns_costliest_first_to_least_loaded_shard():
    shards = plan.assign_shards({"a": 7, "b": 5, "c": 4, "d": 3, "e": 1}, 2)
    # a->0 (7), b->1 (5), c->1 (9), d->0 (10), e->1 (10)
    assert [(s.model_types, s.cost) for s in shards] == [(("a", "d"), 10.0), (("b", "c", "e"), 10.0)]


def test_never_more_shards_than_model_types():
    shards = plan.assign_shards({"x": 1.0, "y": 2.0, "z": 3.0}, 10)
    assert len(shards) == 3
    assert all(s.model_types for s in shards)
    assert sorted(t for s in shards for t in s.model_types) == ["x", "y", "z"]


def test_assignment_is_deterministic_with_ties():
    costs = {t: 1.0 for t in ["e", "c", "a", "d", "b", "f"]}
    first = plan.assign_shards(costs, 4)
    again = plan.assign_shards(dict(reversed(list(costs.items()))), 4)
    assert first == again
    assert [s.model_types for s in first] == [("a", "e"), ("b", "f"), ("c",), ("d",)]


def test_invalid_shard_counts_are_usage_errors():
    with pytest.raises(UsageError):
        plan.assign_shards({"a": 1.0}, 0)
    with pytest.raises(UsageError):
        plan.assign_shards({}, 2)


def test_matrix_shape_and_single_line_json():
    shards = plan.assign_shards({"bert": 12.34, "gpt2": 3.0, "t5": 5.0}, 2)
    m = plan.matrix(shards)
    assert m == {"include": [{"shard": 0, "model_types": "bert", "cost": 12.3},
                             {"shard": 1, "model_types": "gpt2,t5", "cost": 8.0}]}
    text = plan.matrix_json(shards)
    assert "\n" not in text and json.loads(text) == m


# --- costs ------------------------------------------------------------------------------------


def test_timings_prefer_entry_seconds_then_sum_architectures():
    report = {
        "BertConfig": creation_entry("bert", {"BertModel": 1.0, "BertForMaskedLM": 2.0}, entry_seconds=10.0),
        "GPT2Config": creation_entry("gpt2", {"GPT2Model": 1.5, "GPT2LMHeadModel": 2.5}),
        "T5Config": creation_entry("t5", {"T5Model": None}),  # no timing recorded
        "ComboConfig": creation_entry("gpt2", {"Combo": 1.0}),  # a second config class of gpt2
        "OddConfig": {**creation_entry("odd", {"OddModel": None}), "seconds": True},  # bool is not a time
    }
    assert plan.timings_from_report(report) == {"bert": 10.0, "gpt2": 5.0}


def test_estimates_are_calibrated_against_recorded_timings():
    archs = {"bert": ["A", "B"], "gpt2": ["A"], "new": ["A", "B", "C"]}.__getitem__
    # estimate = 5 + 10 * n_archs: bert 25, gpt2 15, new 35
    assert plan.expected_costs(["bert", "gpt2", "new"], {}, archs) == {"bert": 25.0, "gpt2": 15.0, "new": 35.0}
    # recorded bert+gpt2 = 80 vs estimated 40: the runner is twice as slow, so new costs 70
    costs = plan.expected_costs(["bert", "gpt2", "new"], {"bert": 50.0, "gpt2": 30.0, "x": 9.0}, archs)
    assert costs == {"bert": 50.0, "gpt2": 30.0, "new": 70.0}


def test_load_timings_rejects_malformed_reports(tmp_path):
    bad = tmp_path / reports.CREATION_REPORT
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ReportError, match="cannot read timings"):
        plan.load_timings(bad)
    bad.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(ReportError, match="expected a JSON object"):
        plan.load_timings(tmp_path)


# --- CLI --------------------------------------------------------------------------------------


def test_cli_balances_with_timings_and_writes_github_output(tmp_path, monkeypatch, capsys):
    timings = write_timings(tmp_path, {"bert": 100.0, "gpt2": 60.0, "t5": 50.0, "llama": 5.0})
    out_file = tmp_path / "github_output"
    out_file.write_text("earlier=1\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_OUTPUT", str(out_file))
    # Positional and --model-types combine; timings accept the output directory too.
    code = main(["plan", "bert", "gpt2", "--model-types=t5,llama", "-n", "2",
                 "--timings", str(timings.parent.parent)])
    assert code == 0
    captured = capsys.readouterr()
    matrix = json.loads(captured.out)
    # bert->0 (100), gpt2->1 (60), t5->1 (110), llama->0 (105)
    assert matrix == {"include": [{"shard": 0, "model_types": "bert,llama", "cost": 105.0},
                                  {"shard": 1, "model_types": "gpt2,t5", "cost": 110.0}]}
    assert "4 recorded timing(s) and 0 estimate(s)" in captured.err
    text = out_file.read_text(encoding="utf-8")
    assert text.endswith("\n")
    lines = text.splitlines()
    assert lines[0] == "earlier=1"
    assert lines[1].startswith("matrix=") and json.loads(lines[1].removeprefix("matrix=")) == matrix
    assert lines[2] == "shards=2"


def test_cli_estimates_from_architecture_count(capsys, monkeypatch):
    from tinymodels.config.discover import architectures_for

    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert main(["plan", "bert", "--shards", "3"]) == 0
    matrix = json.loads(capsys.readouterr().out)
    expected = plan.SECONDS_PER_MODEL_TYPE + plan.SECONDS_PER_ARCHITECTURE * len(architectures_for("bert"))
    assert matrix == {"include": [{"shard": 0, "model_types": "bert", "cost": expected}]}


def test_cli_missing_timings_file_warns_and_estimates(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("GITHUB_OUTPUT", raising=False)
    assert main(["plan", "bert", "gpt2", "--timings", str(tmp_path / "nope.json")]) == 0
    captured = capsys.readouterr()
    assert "no such file or directory; using estimates" in captured.err
    assert json.loads(captured.out)["include"][0]["model_types"] == "bert,gpt2"
    # An (empty) downloaded artifact directory without a report: same.
    assert main(["plan", "bert", "--timings", str(tmp_path)]) == 0
    assert "using estimates" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["plan"], "name model types"),
    (["plan", "--all", "bert"], "--all plans every model type"),
    (["plan", "bert", "--shards", "0"], "--shards must be at least 1"),
    (["plan", "--all", "--shards", "257"], "exceeds GitHub Actions' limit of 256"),
])
def test_cli_usage_errors(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_cli_malformed_timings_exit_5(tmp_path, capsys):
    bad = tmp_path / reports.CREATION_REPORT
    bad.write_text('{"BertConfig": [1]}', encoding="utf-8")
    assert main(["plan", "bert", "--timings", str(bad)]) == 5
    assert "not a JSON object" in capsys.readouterr().err


@pytest.mark.slow  # the CLI in a subprocess, importing transformers
def test_subprocess_unknown_model_type_exits_2_with_close_matches(tmp_path):
    out_file = tmp_path / "github_output"
    proc = run_cli("plan", "bert", "gtp2", "--shards", "2", env={"GITHUB_OUTPUT": str(out_file)})
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown model type 'gtp2'" in proc.stderr and "'gpt2'" in proc.stderr
    assert not out_file.exists()


def test_at_most_256_shards():
    costs = {f"t{i:03d}": 1.0 for i in range(300)}
    assert len(plan.assign_shards(costs, 256)) == 256
    with pytest.raises(UsageError, match="limit of 256"):
        plan.assign_shards(costs, 300)


def test_subprocess_too_many_shards_exits_2_and_writes_no_matrix(tmp_path):
    out_file = tmp_path / "github_output"
    proc = run_cli("plan", "--all", "--shards", "300", env={"GITHUB_OUTPUT": str(out_file)})
    assert proc.returncode == 2, proc.stderr
    assert "--shards 300 exceeds GitHub Actions' limit of 256" in proc.stderr
    assert proc.stdout == "" and not out_file.exists()
