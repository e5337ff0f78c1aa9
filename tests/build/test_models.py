"""Instantiating and saving models (`build.models`): configs wrapped for heads registered under
other types, classes only their modeling module defines, parameters the model init skips,
speaker side files, and half-dtype checkpoints."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import build_in_process
from tinymodels.config.tiny_config import config_from_dict, tiny_config_dict
from tinymodels.options import BuildOptions

TYPES = ("qwen2_5_omni", "llama4_vision_model")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """qwen2_5_omni (speaker file), llama4_vision_model (bfloat16 config)."""
    return build_in_process(tmp_path_factory, "models", TYPES)


def _saved(built: dict[str, Any], model_type: str, arch: str, name: str) -> dict[str, Any]:
    return json.loads((built["out"] / model_type / arch / name).read_text())


def test_sibling_config_is_used_as_is() -> None:
    import transformers

    from tinymodels.build.models import config_for

    config = config_from_dict("sam2_video", tiny_config_dict("sam2_video"))
    assert config_for(transformers.Sam2Model, config) is config


def test_wrapper_head_gets_the_type_config_wrapped() -> None:
    from transformers import JevConfig, JevForDecision, Qwen3_5Config

    from tinymodels.build.models import config_for, instantiate

    tiny = tiny_config_dict("qwen2")
    tiny["vocab_size"] = 256  # what aligning with a tiny tokenizer does
    qwen2 = config_from_dict("qwen2", tiny)
    wrapped = config_for(JevForDecision, qwen2)
    assert isinstance(wrapped, JevConfig)
    assert wrapped.text_config.model_type == "qwen2"
    assert wrapped.hidden_size == qwen2.hidden_size
    # A composite type: the head reads the text model's width.
    qwen35 = config_from_dict("qwen3_5", tiny_config_dict("qwen3_5"))
    assert isinstance(qwen35, Qwen3_5Config)
    assert config_for(JevForDecision, qwen35).hidden_size == qwen35.text_config.hidden_size
    model = instantiate("JevForDecision", qwen2, seed=0)
    assert model.proj.in_features == qwen2.hidden_size
    # A head declared for the type's own config is untouched.
    from transformers import Qwen2ForCausalLM

    assert config_for(Qwen2ForCausalLM, qwen2) is qwen2


def test_unexported_model_class_is_found_in_its_modeling_module() -> None:
    import transformers

    from tinymodels.build.models import model_class

    config = config_from_dict("voxtral_realtime_text", tiny_config_dict("voxtral_realtime_text"))
    assert not hasattr(transformers, "VoxtralRealtimeTextModel")
    assert model_class("VoxtralRealtimeTextModel", config).__name__ == "VoxtralRealtimeTextModel"
    with pytest.raises(AttributeError):
        model_class("NoSuchModel", config)


def test_parameters_the_model_init_skips_are_seeded() -> None:
    # transformers' init never writes Qwen3-Omni's talker experts: they held stale memory (NaN on
    # some runs). Now drawn from the seeded generator: finite and identical across builds.
    from tinymodels.build.models import instantiate
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.config.upstream_config import tiny_config_for

    tiny, _ = tiny_config_for("qwen3_omni_moe_talker_text", BuildOptions())
    config = config_from_dict("qwen3_omni_moe_talker_text", tiny)
    first, second = (instantiate("Qwen3OmniMoeTalkerModel", config, 0) for _ in range(2))
    experts = first.layers[0].mlp.experts.gate_up_proj
    assert torch.isfinite(experts).all() and 0 < experts.std() < 0.1
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True))
    assert not torch.are_deterministic_algorithms_enabled()  # the build-time switch is restored


def test_speaker_file_is_part_of_the_checkpoint(built: dict[str, Any]) -> None:
    from tinymodels.build.models import SPEAKER_FILE

    folder: Path = built["out"] / "qwen2_5_omni" / "Qwen2_5OmniForConditionalGeneration"
    speakers = torch.load(folder / SPEAKER_FILE, weights_only=True)
    assert set(speakers) == {"Chelsie"}  # generate's default speaker
    assert {"bos_token", "cond", "ref_mel"} <= set(speakers["Chelsie"])


def test_half_dtype_config_saves_half_weights(built: dict[str, Any]) -> None:
    config = _saved(built, "llama4_vision_model", "Llama4VisionModel", "config.json")
    assert config["dtype"] == "bfloat16"
