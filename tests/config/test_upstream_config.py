"""Tiny configs from a transformers checkout's test classes (`--transformers-repo`), with fallback.

The checkout is a fake one under tests/fixtures/transformers_repo: ModelTesters written by
us in upstream's style, since no real transformers checkout is available offline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tinymodels.config.tiny_config import tiny_config_dict
from tinymodels.config.upstream_config import (
    SOURCE_SHRUNK,
    SOURCE_TEST_CLASS,
    modeling_test_file,
    tiny_config_for,
    tiny_config_from_repo,
)
from tinymodels.options import BuildOptions

REPO = Path(__file__).resolve().parents[1] / "fixtures" / "transformers_repo"


def test_test_file_is_named_after_the_config_file() -> None:
    assert modeling_test_file("bert", REPO) == REPO / "tests" / "models" / "bert" / "test_modeling_bert.py"
    # Sub-config types live in their family's configuration file.
    assert modeling_test_file("clip_text_model", REPO) == REPO / "tests" / "models" / "clip" / "test_modeling_clip.py"


def test_shortest_tester_name_wins_and_positions_are_clamped() -> None:
    config = tiny_config_from_repo("bert", REPO)
    assert config is not None
    assert config["model_type"] == "bert"
    # BertModelTester, not BertLongerNameModelTester (hidden 48).
    assert (config["hidden_size"], config["num_hidden_layers"], config["num_attention_heads"]) == (24, 3, 3)
    # Upstream raises position limits to at least 200 so that text generation can run.
    assert config["max_position_embeddings"] == 200


def test_sub_config_types_take_their_part_of_a_composite_tester() -> None:
    text = tiny_config_from_repo("clip_text_model", REPO)
    vision = tiny_config_from_repo("clip_vision_model", REPO)
    assert text is not None and text["model_type"] == "clip_text_model" and text["hidden_size"] == 20
    assert vision is not None and vision["model_type"] == "clip_vision_model" and vision["image_size"] == 30


def test_missing_or_broken_testers_fall_back_to_shrinking() -> None:
    assert tiny_config_from_repo("gpt2", REPO) is None  # its tester raises
    assert tiny_config_from_repo("llama", REPO) is None  # no test file
    assert tiny_config_from_repo("bert", REPO / "does-not-exist") is None
    options = BuildOptions(transformers_repo=REPO)
    config, source = tiny_config_for("gpt2", options)
    assert source == SOURCE_SHRUNK and config == tiny_config_dict("gpt2")
    assert tiny_config_for("bert", options)[1] == SOURCE_TEST_CLASS
    assert tiny_config_for("bert", BuildOptions())[1] == SOURCE_SHRUNK


def test_checkout_tests_do_not_shadow_our_tests_package() -> None:
    tiny_config_from_repo("bert", REPO)
    assert not any(name == "tests.models" or name.startswith("tests.models.") for name in sys.modules)


@pytest.mark.slow
@pytest.mark.parametrize(("model_type", "arch", "source"), [("bert", "BertModel", SOURCE_TEST_CLASS),
                                                            ("gpt2", "GPT2Model", SOURCE_SHRUNK)])
def test_build_records_the_config_source(tmp_path: Path, model_type: str, arch: str, source: str) -> None:
    from tinymodels.build.builder import build_model_type, quiet_libraries

    quiet_libraries()
    options = BuildOptions(transformers_repo=REPO)
    _, entry = build_model_type(model_type, options, tmp_path / model_type)
    assert entry["config_source"] == source
    result = entry["pytorch"][arch]
    assert "error" not in result, result["error"]
    saved = json.loads((tmp_path / model_type / arch / "config.json").read_text())
    if source == SOURCE_TEST_CLASS:
        assert saved["hidden_size"] == 24


@pytest.mark.slow
def test_an_edited_test_file_makes_its_type_stale(tmp_path: Path) -> None:
    """The fingerprint holds the type's modeling test file: editing it rebuilds that type only."""
    import shutil

    from conftest import run_cli

    repo = tmp_path / "repo"
    shutil.copytree(REPO, repo)
    out = tmp_path / "out"
    args = ("bert", "vit", "-o", str(out), "--transformers-repo", str(repo), "--validate", "forward")
    assert run_cli("build", *args).returncode == 0
    again = run_cli("build", *args)
    assert "2 model type(s) up to date" in again.stderr
    test_file = modeling_test_file("bert", repo)
    test_file.write_text(test_file.read_text() + "\n# edited\n")
    edited = run_cli("build", *args)
    assert edited.returncode == 0, edited.stderr
    assert "1 model type(s) up to date, not rebuilt (vit)" in edited.stderr and "✓ bert" in edited.stderr
