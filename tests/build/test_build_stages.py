"""Build stages and the resolved model type: failures become result entries, a type is looked up once."""

from __future__ import annotations

import tempfile

import pytest

from tinymodels.build.stages import (
    StageError,
    error_entry,
    fail_all,
    nothing_to_build,
    run_stage,
    skipped_entry,
)
from tinymodels.config.model_type import ModelType
from tinymodels.errors import scrub


def _raise(exc: BaseException) -> None:
    raise exc


def test_run_stage_tags_the_failure_with_its_stage() -> None:
    with pytest.raises(StageError) as info:
        run_stage("tokenizer", _raise, ValueError("no vocabulary"))
    assert info.value.stage == "tokenizer"
    assert info.value.category == "tokenizer"
    assert str(info.value) == "ValueError: no vocabulary"
    assert "ValueError: no vocabulary" in info.value.trace


def test_a_missing_library_is_its_own_category() -> None:
    with pytest.raises(StageError) as info:
        run_stage("processor", _raise, ImportError("needs torchaudio"))
    assert info.value.stage == "processor"
    assert info.value.category == "missing-dependency"


def test_fail_all_gives_every_architecture_the_one_failure() -> None:
    err = StageError("config", RuntimeError("bad field"))
    entry: dict = {"model_type": "x", "processor": {}, "pytorch": {}}
    fail_all(entry, err, ["AModel", "AForCausalLM"])
    assert entry["error"] == ["[config] RuntimeError: bad field", err.trace]
    assert set(entry["pytorch"]) == {"AModel", "AForCausalLM"}
    assert entry["pytorch"]["AModel"] == error_entry(err)
    assert entry["pytorch"]["AModel"]["category"] == "config"


def test_skipped_entry_says_why() -> None:
    entry = skipped_entry("no forward to validate")
    assert entry["category"] == "skipped"
    assert entry["error"][0] == "[skipped] RuntimeError: no forward to validate"
    assert entry["model"] is None and entry["checkpoint"] is None


def test_nothing_to_build_without_architectures() -> None:
    entry: dict = {"pytorch": {}}
    assert nothing_to_build(entry, None, [])
    assert entry["error"][1] is None
    assert not nothing_to_build({"pytorch": {}}, None, ["AModel"])


def test_scrub_drops_temporary_paths() -> None:
    text = f"no file {tempfile.gettempdir()}/tinymodels-procs-abc123/config.json in .staging-42-bert"
    assert scrub(text) == "no file <tmp>/config.json in .staging-bert"


def test_model_type_is_resolved_once() -> None:
    bert = ModelType.resolve("bert")
    assert bert.config_name == "BertConfig"
    assert "BertModel" in bert.architectures
    assert bert.has_head("MODEL_FOR_MASKED_LM_MAPPING_NAMES")
    assert not bert.has_head("MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES")
    assert bert.composite is None
    assert bert.processors.tokenizer
    assert bert.processors is bert.processors  # cached on first use


def test_a_composite_knows_its_sides() -> None:
    composite = ModelType.resolve("vision-encoder-decoder")
    assert composite.composite == ("vit", "gpt2")
    assert composite.config_name == "VisionEncoderDecoderConfig"
    assert list(composite.architectures) == ["VisionEncoderDecoderModel"]
