"""The size rules of shrink_rules.yaml on real configs: the fields that dominate a tiny model's
parameters (feed-forward blocks, ratio-given MLPs, position tables) stay at their caps, and the
architectures that were far above upstream's test-class sizes come down."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tinymodels.build.models import check_size, model_class
from tinymodels.config.tiny_config import config_from_dict, tiny_config_dict


def _values(d: dict[str, Any], key: str) -> Iterator[Any]:
    """Every value of `key` in a config dict and its nested sub-config dicts."""
    for k, v in d.items():
        if k == key:
            yield v
        if isinstance(v, dict):
            yield from _values(v, key)


def _flat(v: Any) -> list[float]:
    return [x for x in (v if isinstance(v, list | tuple) else [v]) if isinstance(x, int | float)]


@pytest.mark.parametrize(("model_type", "key", "cap"), [
    ("bert", "intermediate_size", 32),
    ("t5", "d_ff", 32),
    ("gpt2", "n_inner", 32),             # None in the defaults: 4 × width unless set
    ("vit", "intermediate_size", 32),
    ("swin", "mlp_ratio", 2),
    ("segformer", "mlp_ratios", 2),
    ("segformer", "sr_ratios", 2),
    ("pvt", "sequence_reduction_ratios", 2),
    ("pvt_v2", "sr_ratios", 2),
    ("bert", "max_position_embeddings", 256),
    ("whisper", "max_target_positions", 256),
    ("pegasus", "max_position_embeddings", 256),
    ("albert", "embedding_size", 16),    # factorized token tables: below the width
    ("electra", "embedding_size", 16),
    ("funnel", "block_sizes", 1),
    ("wav2vec2", "conv_dim", 16),         # speech feature encoders: per-layer channel lists
    ("hubert", "conv_dim", 16),
    ("sew", "conv_dim", 16),
])
def test_capped(model_type: str, key: str, cap: int) -> None:
    values = [x for v in _values(tiny_config_dict(model_type), key) for x in _flat(v)]
    assert values, f"{model_type} has no {key}"
    assert max(values) <= cap, f"{model_type}.{key} = {values}, cap {cap}"


# Upstream's test-class sizes (tests/models/<type>/test_modeling_<type>.py) of the architectures
# the performance issue and its follow-up measurements found far above them (19x, 3.75x, 3.09x).
SWIN_TESTER = {"image_size": 32, "patch_size": 2, "embed_dim": 16, "depths": [1, 2, 1],
               "num_heads": [2, 2, 4], "window_size": 2, "mlp_ratio": 2.0}
SWINV2_TESTER = {"image_size": 32, "patch_size": 2, "embed_dim": 16, "depths": [1, 2, 1], "num_heads": [2, 2, 4],
                 "window_size": 2, "mlp_ratio": 2.0, "encoder_stride": 8}
SEGFORMER_TESTER = {"image_size": 64, "num_encoder_blocks": 4, "depths": [1, 1, 1, 1], "sr_ratios": [8, 4, 2, 1],
                    "hidden_sizes": [8, 8, 16, 16], "downsampling_rates": [1, 4, 8, 16],
                    "num_attention_heads": [1, 1, 2, 2]}


@pytest.mark.parametrize(("model_type", "arch", "tester"), [
    ("swin", "SwinForImageClassification", SWIN_TESTER),
    ("segformer", "SegformerForImageClassification", SEGFORMER_TESTER),
    ("swinv2", "Swinv2ForMaskedImageModeling", SWINV2_TESTER),
])
def test_within_3x_of_upstreams_test_class(model_type: str, arch: str, tester: dict[str, Any]) -> None:
    from transformers import AutoConfig

    ours = config_from_dict(model_type, tiny_config_dict(model_type))
    theirs = AutoConfig.for_model(model_type, **tester)
    n_ours = check_size(model_class(arch, ours), ours)
    n_theirs = check_size(model_class(arch, theirs), theirs)
    assert 0 < n_ours <= 3 * n_theirs, f"{arch}: {n_ours:,} parameters, upstream's test class {n_theirs:,}"


@pytest.mark.parametrize(("model_type", "total", "part"), [
    ("squeezebert", "embedding_size", "hidden_size"),  # its encoder asserts the two are equal
    ("convbert", "embedding_size", "hidden_size"),
    ("vit", "encoder_stride", "patch_size"),
    ("deit", "encoder_stride", "patch_size"),
])
def test_a_tie_of_the_defaults_survives_the_caps(model_type: str, total: str, part: str) -> None:
    d = tiny_config_dict(model_type)
    assert d[total] == d[part], f"{model_type}: {total} = {d[total]}, {part} = {d[part]}"


def test_masked_image_modeling_reconstructs_the_image_it_was_given() -> None:
    """What MIM users do: mask patches, get a loss; ViT refuses unless the stride is the patch."""
    import torch

    config = config_from_dict("vit", tiny_config_dict("vit"))
    model = model_class("ViTForMaskedImageModeling", config)(config)
    pixels = torch.randn(2, config.num_channels, config.image_size, config.image_size)
    patches = (config.image_size // config.patch_size) ** 2
    out = model(pixel_values=pixels, bool_masked_pos=torch.ones(2, patches, dtype=torch.bool))
    assert out.reconstruction.shape == pixels.shape
    assert torch.isfinite(out.loss)


WAV2VEC2_TESTER = {"hidden_size": 16, "conv_dim": [32, 32, 32], "conv_stride": [4, 4, 4], "conv_kernel": [8, 8, 8],
                   "conv_bias": False, "num_conv_pos_embeddings": 16, "num_conv_pos_embedding_groups": 2,
                   "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 20}


def test_a_speech_encoder_is_no_larger_than_upstreams_test_class_and_keeps_its_frame_rate() -> None:
    """The feature encoder's channels shrink, not its kernels and strides: a frame still covers the
    samples a real checkpoint's does (the ASR pipeline's chunking and timestamps read it)."""
    from transformers import AutoConfig

    ours = config_from_dict("wav2vec2", tiny_config_dict("wav2vec2"))
    theirs = AutoConfig.for_model("wav2vec2", **WAV2VEC2_TESTER)
    n_ours = check_size(model_class("Wav2Vec2Model", ours), ours)
    n_theirs = check_size(model_class("Wav2Vec2Model", theirs), theirs)
    assert n_ours <= n_theirs, f"Wav2Vec2Model: {n_ours:,} parameters, upstream's test class {n_theirs:,}"
    assert ours.inputs_to_logits_ratio == AutoConfig.for_model("wav2vec2").inputs_to_logits_ratio == 320


def test_an_int_conv_dim_is_a_width_not_a_speech_encoder() -> None:
    # OneFormer's pixel decoder group-norms its int conv_dim in groups of 32.
    assert tiny_config_dict("oneformer")["conv_dim"] == 32
