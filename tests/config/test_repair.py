"""Config-consistency mechanisms, checked on real model types: fields an owner config pushes
into its sub-configs, wrapper configs for heads registered under other types, classes only their
modeling module defines, encoder-only heads, pooled image tokens, derived ratios and media code
ranges laid out after the vocabulary."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from conftest import assert_all_validate, build_in_process
from tinymodels.config.tiny_config import add_owner_fields, config_from_dict, tiny_config_dict

# One real build per mechanism: owner fields + pooled image tokens (t5gemma2_encoder), encoder-only
# head of a seq2seq type (t5gemma), the MLA rotary ratio (mistral4), code ranges (apertus1p5).
TYPES = ("t5gemma2_encoder", "t5gemma", "mistral4", "apertus1p5")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "config", TYPES)


@pytest.mark.slow
@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


@pytest.mark.slow
def test_encoder_only_head_is_saved_as_encoder_only(built: dict[str, Any]) -> None:
    from transformers import AutoConfig

    folder: Path = built["out"] / "t5gemma" / "T5GemmaEncoderModel"
    assert AutoConfig.from_pretrained(folder).is_encoder_decoder is False


@pytest.mark.slow
def test_code_ranges_follow_the_tiny_vocabulary(built: dict[str, Any]) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(built["out"] / "apertus1p5" / "Apertus1p5Model")
    vocab = built["apertus1p5"]["vocab_size"]
    # text tokens | visual codes | audio codes, the embedding table covering all of them
    assert config.image_token_offset >= vocab - config.vision_config.codebook_size - config.audio_config.codebook_size
    assert config.image_token_offset + config.vision_config.codebook_size == config.audio_token_offset
    assert config.audio_token_offset + config.audio_config.codebook_size <= config.text_config.vocab_size


def test_owner_fields_complete_a_standalone_sub_config() -> None:
    from tinymodels.config.discover import config_class

    defaults = config_class("pix2struct_text_model")().to_dict()
    assert "initializer_range" not in defaults
    assert add_owner_fields("pix2struct_text_model", defaults) == ["initializer_range"]
    # Nested: t5gemma2 pushes dropout_rate into its encoder's text config.
    nested = config_class("t5gemma2_encoder")().to_dict()
    assert add_owner_fields("t5gemma2_encoder", nested) == ["text_config.dropout_rate"]
    # A type that is nobody's sub-config gets nothing.
    assert add_owner_fields("bert", config_class("bert")().to_dict()) == []


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


def test_pooled_image_tokens_fit_the_patch_grid() -> None:
    from tinymodels.config.repair import repair_pooled_image_tokens

    tiny = tiny_config_dict("t5gemma2_encoder")
    vision = tiny["vision_config"]
    patches = vision["image_size"] // vision["patch_size"]
    side = int(tiny["mm_tokens_per_image"] ** 0.5)
    assert side * side == tiny["mm_tokens_per_image"] and patches % side == 0 and side < patches
    d = copy.deepcopy(tiny)
    d["mm_tokens_per_image"] = 256
    repair_pooled_image_tokens(d, {})
    assert d["mm_tokens_per_image"] == tiny["mm_tokens_per_image"]


def test_mla_rotary_fraction_follows_the_shrunk_head() -> None:
    tiny = tiny_config_dict("mistral4")
    assert tiny["rope_parameters"]["partial_rotary_factor"] == pytest.approx(
        tiny["qk_rope_head_dim"] / tiny["head_dim"])
