"""Tiny configs of real model types: each consistency repair checked on representative types.

Each test builds the tiny config (shrink → overrides → repairs → instantiate + validate),
then instantiates the base model only and checks its size.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from tinymodels.config.discover import architecture_mappings, config_class
from tinymodels.config.tiny_config import check_config, tiny_config_dict
from tinymodels.preprocess.align import clamp_token_ids

# Params of a base model once the text vocabulary is aligned with a 1024-token tokenizer.
PARAM_BUDGET = 2_500_000  # 10 MB of float32 weights


def _base_model(model_type: str, tiny: dict[str, Any]) -> Any:
    import torch
    import transformers

    arch = next(iter(architecture_mappings(model_type)))
    torch.manual_seed(0)
    return getattr(transformers, arch)(check_config(model_type, tiny))


def _params(model: Any) -> int:
    return sum(p.numel() for p in model.parameters())


def _text(tiny: dict[str, Any]) -> dict[str, Any]:
    return tiny["text_config"] if isinstance(tiny.get("text_config"), dict) else tiny


def _with_vocab(tiny: dict[str, Any], vocab: int = 1024) -> dict[str, Any]:
    """What the builder does with a trained tokenizer: `vocab_size` becomes the tokenizer's,
    token ids are brought inside it."""
    for d in [tiny] + [v for v in tiny.values() if isinstance(v, dict) and "model_type" in v]:
        if isinstance(d.get("vocab_size"), int) and d["vocab_size"] > vocab:
            d["vocab_size"] = vocab
    clamp_token_ids(tiny, vocab)
    return tiny


@pytest.mark.parametrize("model_type", ["dinov2", "dinov2_with_registers", "depth_anything"])
def test_backbone_out_features_name_existing_stages(model_type: str) -> None:
    tiny = tiny_config_dict(model_type)
    backbone = tiny.get("backbone_config") or tiny
    default = config_class(model_type)().to_dict()
    default_backbone = default.get("backbone_config") or default
    # As many outputs as the defaults asked for, pointing at the last stages.
    assert len(backbone["out_features"]) == len(default_backbone["out_features"])
    assert backbone["out_features"][-1] == backbone["stage_names"][-1]
    assert set(backbone["out_features"]) <= set(backbone["stage_names"])
    assert _params(_base_model(model_type, tiny)) < PARAM_BUDGET


def test_backbone_stages_set_by_an_override_are_kept() -> None:
    # BeitForSemanticSegmentation needs 4 outputs: overrides.yaml asks for them, the repair keeps them.
    tiny = tiny_config_dict("beit")
    assert tiny["out_indices"] == [1, 2, 3, 4]
    assert tiny["stage_names"] == ["stem", "stage1", "stage2", "stage3", "stage4"]


@pytest.mark.parametrize("model_type", ["jamba", "qwen3_next", "gemma3"])
def test_hybrid_layer_patterns_keep_every_kind(model_type: str) -> None:
    tiny = _text(tiny_config_dict(model_type))
    config = check_config(model_type, tiny_config_dict(model_type))
    text = config.get_text_config()
    kinds = getattr(text, "layer_types", None) or getattr(text, "layers_block_type", None)
    default = config_class(model_type)().get_text_config()
    default_kinds = getattr(default, "layer_types", None) or getattr(default, "layers_block_type", None)
    assert set(kinds) == set(default_kinds)
    assert len(kinds) == tiny["num_hidden_layers"] < default.num_hidden_layers
    assert _params(_base_model(model_type, _with_vocab(tiny_config_dict(model_type)))) < PARAM_BUDGET


def test_bamba_layer_indices_keep_attention() -> None:
    tiny = tiny_config_dict("bamba")
    assert tiny["attn_layer_indices"] and max(tiny["attn_layer_indices"]) < tiny["num_hidden_layers"]
    # Mamba heads * head size equal the expanded width.
    assert tiny["mamba_n_heads"] * tiny["mamba_d_head"] == tiny["mamba_expand"] * tiny["hidden_size"]
    assert _params(_base_model("bamba", _with_vocab(tiny))) < PARAM_BUDGET


def test_mamba2_heads_times_head_dim_is_expanded_width() -> None:
    tiny = tiny_config_dict("mamba2")
    assert tiny["num_heads"] * tiny["head_dim"] == tiny["expand"] * tiny["hidden_size"]
    assert tiny["num_heads"] % tiny["n_groups"] == 0
    assert _params(_base_model("mamba2", _with_vocab(tiny))) < PARAM_BUDGET


@pytest.mark.parametrize("model_type", ["qwen2_vl", "glm4v", "cosmos3_edge"])
def test_mrope_sections_match_shrunk_head(model_type: str) -> None:
    # qwen2_vl/glm4v leave the sections to a modeling default sized for the full head;
    # cosmos3_edge spells them out and validates them.
    tiny = tiny_config_dict(model_type)
    text = _text(tiny)
    head_dim = text.get("head_dim") or text["hidden_size"] // text["num_attention_heads"]
    rope = text["rope_parameters"]
    factor = rope.get("partial_rotary_factor", text.get("partial_rotary_factor")) or 1.0
    assert sum(rope["mrope_section"]) in (head_dim // 2, int(head_dim * factor) // 2)


def test_per_layer_config_keys_in_range_and_validated() -> None:
    tiny = _text(tiny_config_dict("dots3_note"))
    keys = [int(k) for k in tiny["per_layer_config"]]
    assert keys and max(keys) < tiny["num_hidden_layers"]
    # Per-layer overrides are shrunk and stay multi-head like their defaults.
    for entry in tiny["per_layer_config"].values():
        assert entry["num_key_value_heads"] == entry["num_attention_heads"] <= 4


def test_mla_kv_heads_follow_heads_and_head_dim_is_a_sum() -> None:
    tiny = tiny_config_dict("deepseek_v3")
    assert tiny["num_key_value_heads"] == tiny["num_attention_heads"]
    assert _params(_base_model("deepseek_v3", _with_vocab(tiny))) < PARAM_BUDGET


def test_tied_widths_follow_the_width_they_match() -> None:
    tiny = tiny_config_dict("dots3_note")
    assert tiny["vision_config"]["adapter_in_dim"] == tiny["text_config"]["hidden_size"]


def test_heads_divide_per_stage_widths() -> None:
    tiny = tiny_config_dict("donut-swin")
    assert all(h & (h - 1) == 0 for h in tiny["num_heads"])  # powers of two divide the widths
    assert _params(_base_model("donut-swin", tiny)) < PARAM_BUDGET


def test_group_norm_groups_divide_channels() -> None:
    tiny = tiny_config_dict("bit")
    assert tiny["num_groups"] <= 4
    _base_model("bit", tiny)


def test_none_fields_used_arithmetically_get_values() -> None:
    tiny = tiny_config_dict("dots1")
    assert tiny["n_routed_experts"] and tiny["num_experts_per_tok"]
    assert _params(_base_model("dots1", _with_vocab(tiny))) < PARAM_BUDGET


@pytest.mark.parametrize("model_type,field", [("luke", "entity_vocab_size"),
                                              ("gemma3n_text", "vocab_size_per_layer_input"),
                                              ("blt", "encoder_hash_byte_group_vocab")])
def test_secondary_vocabularies_are_capped(model_type: str, field: str) -> None:
    tiny = tiny_config_dict(model_type)
    assert tiny[field] <= 1024
    assert _params(_base_model(model_type, _with_vocab(tiny))) < PARAM_BUDGET


@pytest.mark.parametrize("model_type", ["bert", "gpt2", "t5", "llama", "vit", "whisper", "clip", "wav2vec2"])
def test_core_types_validate(model_type: str) -> None:
    tiny = tiny_config_dict(model_type)
    assert _params(_base_model(model_type, _with_vocab(tiny))) < PARAM_BUDGET


def test_conv_channel_widths_are_capped() -> None:
    # qwen2_5_omni's token2wav BigVGAN starts at 1536 channels; the whole model must fit the budget
    # (the embedded vocoder takes its own type's override: 128, halved at each of 6 stages).
    tiny = tiny_config_dict("qwen2_5_omni")
    assert tiny["token2wav_config"]["bigvgan_config"]["upsample_initial_channel"] <= 128
    # A timm backbone (fixed resnet50) becomes a tiny transformers backbone.
    detr = tiny_config_dict("detr")
    assert detr["backbone_config"]["model_type"] == "resnet" and not detr.get("use_timm_backbone")
    assert _params(_base_model("detr", detr)) < PARAM_BUDGET


def test_list_ties_keep_axial_positions_consistent() -> None:
    # reformer: axial dims sum to the width, axial shape multiplies to the position count.
    tiny = tiny_config_dict("reformer")
    assert sum(tiny["axial_pos_embds_dim"]) == tiny["hidden_size"]
    assert math.prod(tiny["axial_pos_shape"]) == tiny["max_position_embeddings"]
    assert _params(_base_model("reformer", _with_vocab(tiny))) < PARAM_BUDGET


def test_none_kv_heads_mean_multi_head() -> None:
    tiny = tiny_config_dict("nemotron")
    assert tiny["num_key_value_heads"] == tiny["num_attention_heads"]
    _base_model("nemotron", _with_vocab(tiny))


@pytest.mark.parametrize("model_type,field", [("funnel", "d_inner"), ("recurrent_gemma", "lru_width"),
                                              ("perceiver", "d_latents")])
def test_ffn_and_latent_widths_are_capped(model_type: str, field: str) -> None:
    tiny = tiny_config_dict(model_type)
    assert tiny[field] <= 64
    assert _params(_base_model(model_type, _with_vocab(tiny))) < PARAM_BUDGET


def test_text_heads_of_composite_types_get_their_sub_config() -> None:
    import transformers

    from tinymodels.build.models import config_for

    config = check_config("llama4", _with_vocab(tiny_config_dict("llama4")))
    sub = config_for(transformers.Llama4ForCausalLM, config)
    assert type(sub) is transformers.Llama4TextConfig and sub is config.text_config
    assert config_for(transformers.Llama4ForConditionalGeneration, config) is config
