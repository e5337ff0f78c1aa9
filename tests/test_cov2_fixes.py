"""Second-pass fixes, on real model types: a table tokenizer's positional text, processors built from
the config's timm data settings, speaker side files, missing libraries reported as such, -inf
accepted as a mask value, unexported Auto classes and null processor components."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import arch_errors, assert_all_validate, build_in_process
from tinymodels.validate.forward import _check_finite
from tinymodels.validate.levels import ValidationError

TYPES = ("tapas", "timm_wrapper", "qwen2_5_omni", "musicgen_melody")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """tapas (tokenizer whose first argument is `table`), timm_wrapper (image processor from the
    config's `pretrained_cfg`), qwen2_5_omni (speaker file), musicgen_melody (torchaudio missing)."""
    return build_in_process(tmp_path_factory, "fixes", TYPES)


@pytest.mark.parametrize("model_type", ["tapas", "timm_wrapper", "qwen2_5_omni"])
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_timm_processor_reloads_from_the_checkpoint_config(built: dict[str, Any]) -> None:
    from transformers import AutoConfig, AutoImageProcessor

    folder: Path = built["out"] / "timm_wrapper" / "TimmWrapperModel"
    assert AutoConfig.from_pretrained(folder).pretrained_cfg["input_size"] == [3, 32, 32]
    processor = AutoImageProcessor.from_pretrained(folder)
    assert processor.data_config["input_size"] == (3, 32, 32)


def test_speaker_file_is_part_of_the_checkpoint(built: dict[str, Any]) -> None:
    from tinymodels.build.models import SPEAKER_FILE

    folder: Path = built["out"] / "qwen2_5_omni" / "Qwen2_5OmniForConditionalGeneration"
    speakers = torch.load(folder / SPEAKER_FILE, weights_only=True)
    assert set(speakers) == {"Chelsie"}  # generate's default speaker
    assert {"bos_token", "cond", "ref_mel"} <= set(speakers["Chelsie"])


def test_missing_library_in_processor_class_is_a_missing_dependency(built: dict[str, Any]) -> None:
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        entry = built["musicgen_melody"]
        assert entry["pytorch"]
        assert {v["category"] for v in entry["pytorch"].values()} == {"missing-dependency"}
        assert all("torchaudio" in e for e in arch_errors(entry).values())
    else:
        pytest.skip("torchaudio is installed here")


def test_minus_inf_is_a_mask_value_but_nan_and_plus_inf_fail() -> None:
    logits = torch.tensor([[0.5, float("-inf")]])
    _check_finite({"logits": logits}, "M.forward")  # Grounding DINO's masked text positions
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="NaN or \\+Inf"):
            _check_finite({"logits": torch.tensor([[0.5, bad]])}, "M.forward")


def test_unexported_mapped_class_is_skipped_with_its_reason() -> None:
    from tinymodels.build.architectures import _unexported_architectures
    from tinymodels.config.discover import architecture_mappings

    skipped = _unexported_architectures(architecture_mappings("voxtral_realtime_text"))
    assert list(skipped) == ["VoxtralRealtimeTextModel"]
    assert "upstream limitation" in skipped["VoxtralRealtimeTextModel"]
    assert _unexported_architectures(architecture_mappings("bert")) == {}


def test_null_processor_entries_drop_components() -> None:
    from tinymodels.build.processor_plan import split_processor_override

    classes, kwargs, rest = split_processor_override({"class": None, "feature_extractor": None,
                                                      "image_processor": {"size": 8}})
    assert classes == {"processor": None, "feature_extractor": None}
    assert kwargs == {"image_processor": {"size": 8}} and rest == {}


def test_declared_auto_subconfig_is_enabled_and_shrunk() -> None:
    from tinymodels.config.tiny_config import tiny_config_dict

    vision = tiny_config_dict("embedding_gemma2")["vision_config"]
    assert vision["model_type"] == "gemma4_vision"
    assert vision["hidden_size"] <= 64
