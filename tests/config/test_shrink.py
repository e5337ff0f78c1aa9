"""Shrinking a config class to the size budget (`config.tiny_config`, `shrink_rules.yaml`): block
specs, stage widths, timm towers, feature sizes, derived fields, sub-config overrides and towers the
defaults leave off, checked on the tiny configs of real model types and on real builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import assert_all_validate, build_in_process
from tinymodels.config.tiny_config import config_from_dict, tiny_config_dict

TYPES = ("gemma3n_vision", "sam2", "swin")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """gemma3n_vision (timm tower shrunk through model_args, block specs kept for the reload),
    sam2 (growing hiera widths, image-scaled feature sizes), swin (stage widths that double)."""
    return build_in_process(tmp_path_factory, "shrink", TYPES)


def test_timm_tower_checkpoint_keeps_its_block_specs(built: dict[str, Any]) -> None:
    # timm consumes block specs in place when it builds; the saved config must still have them.
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(built["out"] / "gemma3n_vision" / "TimmWrapperModel")
    blocks = config.model_args["block_args"]
    assert all("block_type" in block for stage in blocks for block in stage)


def test_block_specs_shrink_channels_and_keep_flags() -> None:
    blocks = tiny_config_dict("pp_lcnet_v3")["block_configs"]
    flat = [block for stage in blocks for block in stage]
    assert all(max(block[1], block[2]) <= 32 for block in flat)  # [kernel, in, out, stride, se]
    assert {block[4] for block in flat} == {True, False}  # use_se flags untouched
    nested = tiny_config_dict("pp_lcnet_v4")["block_configs"]
    assert [2, 1] in [block[3] for stage in nested for block in stage]  # nested strides untouched


def test_growing_stage_widths_keep_growing() -> None:
    hiera = tiny_config_dict("sam2_hiera_det_model")
    widths = hiera["embed_dim_per_stage"]
    assert widths == sorted(set(widths)) and widths[0] == hiera["hidden_size"]
    vision = tiny_config_dict("sam2")["vision_config"]
    assert vision["backbone_channel_list"] == vision["backbone_config"]["embed_dim_per_stage"][::-1]


def test_feature_sizes_follow_the_patch_grid() -> None:
    # sam2: stride-4 hiera patches on a 32-pixel image; sam3: the ViT patch shrinks too (14 -> 4).
    assert tiny_config_dict("sam2")["vision_config"]["backbone_feature_sizes"] == [[8, 8], [4, 4], [2, 2]]
    assert tiny_config_dict("sam3_tracker")["vision_config"]["backbone_feature_sizes"] == [[32, 32], [16, 16], [8, 8]]


def test_timm_towers_get_tiny_model_args_and_their_real_width() -> None:
    from tinymodels.build.models import check_size, model_class
    from tinymodels.config.discover import architectures_for

    vision = tiny_config_dict("gemma3n_vision")
    assert vision["hidden_size"] == 2048  # MobileNetV5's fusion output width is fixed
    video = tiny_config_dict("pe_video_encoder")["vision_config"]["model_args"]
    assert video["embed_dim"] == 32 and video["depth"] == 2
    for model_type in ("gemma3n_vision", "pe_video_encoder", "edgetam_vision_model"):
        config = config_from_dict(model_type, tiny_config_dict(model_type))
        for arch in architectures_for(model_type):
            assert 0 < check_size(model_class(arch, config), config) < 2_500_000, (model_type, arch)


def test_sub_configs_take_their_own_type_overrides() -> None:
    from tinymodels.knowledge import override_for

    dac = override_for("dac").config["encoder_hidden_size"]
    assert tiny_config_dict("pe_audio_encoder")["dac_config"]["encoder_hidden_size"] == dac
    assert tiny_config_dict("vibevoice_asr")["acoustic_tokenizer_encoder_config"]["num_filters"] == 1


def test_derived_fields_are_derived_from_the_tiny_values() -> None:
    dots = tiny_config_dict("dots3_note_audio_encoder")
    assert dots["conv_output_size"] == dots["downsample_hidden_size"] * ((dots["feature_size"] + 7) // 8)
    speech = tiny_config_dict("fastspeech2_conformer")
    assert speech["encoder_config"]["linear_units"] == speech["encoder_linear_units"] <= 64
    assert speech["encoder_config"]["layers"] == speech["encoder_layers"]


def test_checkpoint_folders_exist(built: dict[str, Any]) -> None:
    out: Path = built["out"]
    assert (out / "sam2" / "Sam2Model" / "model.safetensors").is_file()


@pytest.mark.parametrize("model_type", ["swin", "swinv2", "donut-swin", "maskformer-swin"])
def test_doubling_stages_end_small_and_keep_heads_and_stride(model_type: str) -> None:
    # Width doubles at every stage: the first stage shrinks so the last one is 64 wide, not 8x32.
    tiny = tiny_config_dict(model_type)
    growth = 2 ** (len(tiny["depths"]) - 1)
    assert tiny["embed_dim"] * growth <= 64
    assert all((tiny["embed_dim"] * 2**i) % h == 0 for i, h in enumerate(tiny["num_heads"]))
    if "encoder_stride" in tiny:  # masked image modeling rebuilds the image from the last stage
        assert tiny["encoder_stride"] == tiny["patch_size"] * growth


def test_constant_width_stages_keep_the_common_width() -> None:
    # swin2sr keeps one width through its stages (no derived hidden size): the repair leaves it.
    assert tiny_config_dict("swin2sr")["embed_dim"] == 32


def test_swin_checkpoint_is_a_fraction_of_a_megabyte(built: dict[str, Any]) -> None:
    # 4.8 MB before the doubling-stages repair (a 256-wide last stage); every level still passes.
    assert_all_validate(built["swin"])
    assert (built["out"] / "swin" / "SwinModel" / "model.safetensors").stat().st_size < 1_000_000


def test_declared_auto_subconfig_is_enabled_and_shrunk() -> None:
    from tinymodels.config.tiny_config import tiny_config_dict

    vision = tiny_config_dict("embedding_gemma2")["vision_config"]
    assert vision["model_type"] == "gemma4_vision"
    assert vision["hidden_size"] <= 64


def test_override_switches_a_none_subconfig_on() -> None:
    tiny = tiny_config_dict("gemma4_unified")
    assert isinstance(tiny["vision_config"], dict)
    assert tiny["vision_config"]["mm_embed_dim"] == 32  # shrunk like any other tower (default 3840)


def test_video_towers_embed_as_many_frames_as_the_sample_clip() -> None:
    from tinymodels.preprocess.samples import sample_video

    for model_type in ("videomae", "vivit"):
        assert tiny_config_dict(model_type)["num_frames"] == len(sample_video())
