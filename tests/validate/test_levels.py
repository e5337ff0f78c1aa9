"""Validation levels (`validate.levels`, `validate.check`): `--validate` parsing (and on the CLI), and
levels skipped for an upstream reason reported with it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import arch_errors, build_in_process, build_selected, levels_of, run_cli
from tinymodels.errors import UsageError
from tinymodels.options import ALL, parse_levels
from tinymodels.validate.levels import OK


def test_parse_levels() -> None:
    assert parse_levels("all") == ALL
    assert parse_levels("forward") == {"load", "forward"}
    assert parse_levels("forward, train") == {"load", "forward", "train"}
    with pytest.raises(UsageError, match="did you mean 'pipeline'"):
        parse_levels("pipelines")
    with pytest.raises(UsageError):
        parse_levels(",")


@pytest.mark.slow  # a real gpt2 build through the CLI
def test_validate_flag_on_the_cli(tmp_path: Path) -> None:
    bad = run_cli("build", "bert", "--validate", "forwrd", "-o", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "did you mean 'forward'" in bad.stderr
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "quick"
    proc = run_cli("build", "gpt2", "--validate", "forward", "-o", str(out), "-j", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "reports" / "tiny_model_creation_report.json").read_text())
    levels = {a: i["levels"] for a, i in report["GPT2Config"]["pytorch"].items()}
    assert levels and all(v == {"load": "ok", "forward": "ok"} for v in levels.values())


@pytest.mark.slow  # builds real models
def test_skipped_levels_are_reported_with_their_reason(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tinymodels.knowledge import override_for

    reason = override_for("reformer").skip_levels["train"]
    entry = build_in_process(tmp_path_factory, "skips", ["reformer"])["reformer"]
    assert arch_errors(entry) == {}
    assert entry["pytorch"]["ReformerForMaskedLM"]["levels"]["train"] == f"skipped: {reason}"


@pytest.mark.slow  # builds real models
def test_upstream_generate_skips_are_reported(tmp_path_factory: pytest.TempPathFactory) -> None:
    entry = build_selected(tmp_path_factory, "roc_bert", ("RoCBertForCausalLM",), {"forward", "generate", "chat"})
    levels = levels_of(entry, "RoCBertForCausalLM")
    assert levels["forward"] == OK
    assert levels["generate"].startswith("skipped: ") and "upstream" in levels["generate"]
    assert levels["chat"].startswith("skipped: ")
