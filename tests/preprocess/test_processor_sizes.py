"""Processor sizes that follow the tiny config (pad sizes, tile sizes, encoder patch sizes, video
frames) and image batches reshaped to the rank the model unpacks, checked on real model types."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from conftest import assert_all_validate, build_in_process
from tinymodels.config.tiny_config import config_from_dict, tiny_config_dict
from tinymodels.preprocess.processors import build_image_processor
from tinymodels.validate.forward import model_inputs

BUILT = ("slanext", "idefics3_vision", "paddleocr_vl_vision", "tipsv2")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real build per mechanism: slanext (pad_size follows the image size), idefics3_vision
    (5-D image batches flattened for a vision tower), paddleocr_vl_vision (4-D patches batched for
    a tower unpacking 5), tipsv2 (the text's attention mask kept away from the vision backbone)."""
    return build_in_process(tmp_path_factory, "vision", BUILT)


@pytest.mark.parametrize("model_type", BUILT)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def _config(model_type: str) -> Any:
    return config_from_dict(model_type, tiny_config_dict(model_type))


def test_pad_size_follows_the_tiny_image_size_and_mask_sizes_do_not() -> None:
    config = _config("sam")
    proc = build_image_processor("SamImageProcessor", config)
    side = config.vision_config.image_size
    assert (proc.pad_size.height, proc.pad_size.width) == (side, side)
    assert proc.size.longest_edge == side
    # Mask sizes shape segmentation targets only.
    assert proc.mask_pad_size.height == 256


def test_encoder_patch_size_and_tile_size_follow_the_config() -> None:
    config = _config("lfm2_vl")
    proc = build_image_processor("Lfm2VlImageProcessor", config)
    assert proc.encoder_patch_size == config.vision_config.patch_size
    assert proc.tile_size <= 64
    # Patch sizes are size settings too, but never replaced by the image size.
    pix = build_image_processor("Pix2StructImageProcessor", _config("pix2struct"))
    assert pix.patch_size.height == 16


def test_video_towers_embed_as_many_frames_as_the_sample_clip() -> None:
    from tinymodels.preprocess.samples import sample_video

    for model_type in ("videomae", "vivit"):
        assert tiny_config_dict(model_type)["num_frames"] == len(sample_video())


def test_pixel_rank_follows_the_model_code_and_leaves_vlms_alone() -> None:
    from transformers import AutoModel

    images = torch.zeros(1, 3, 3, 32, 32)
    tower = AutoModel.from_config(_config("idefics3_vision"))
    assert model_inputs(tower, {"pixel_values": images}, "Idefics3VisionTransformer")["pixel_values"].dim() == 4
    # The VLM flattens its own image batches: its input keeps 5 dimensions.
    vlm = AutoModel.from_config(_config("idefics3"))
    assert model_inputs(vlm, {"pixel_values": images}, "Idefics3Model")["pixel_values"].dim() == 5
