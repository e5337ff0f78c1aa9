"""Vision-language placeholders and towers, on real builds: placeholder strings a processor writes
itself become tokens (Ovis2, Molmo2), the config's image id follows the token the processor's
expansion repeats (Ovis2's `<IMG_ATOM>`, not its declared `<image>`), one config field aliased by
two modalities keeps the image id (Molmo2), a sub-config the defaults leave None switched on by an
override (Gemma 4 unified's vision tower), and checkpoints in the half dtype their config names
(Llama 4's vision tower, fed bfloat16 pixels)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import assert_all_validate, build_in_process
from tinymodels.config.tiny_config import tiny_config_dict
from tinymodels.preprocess.special_tokens import processor_added_tokens

TYPES = ("ovis2", "molmo2", "gemma4_unified", "llama4_vision_model")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "cov2-vlm", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def _saved(built: dict[str, Any], model_type: str, arch: str, name: str) -> dict[str, Any]:
    return json.loads((built["out"] / model_type / arch / name).read_text())


def test_literal_placeholders_are_read_from_processor_code() -> None:
    # f"<IMG_START>{'<IMG_ATOM>' * n}<IMG_GRID>" and ["<im_patch>"] * width, not docstrings.
    assert {"<IMG_ATOM>", "<IMG_START>", "<IMG_END>"} <= set(processor_added_tokens("Ovis2Processor"))
    assert {"<im_patch>", "<im_col>", "<low_res_im_start>"} <= set(processor_added_tokens("Molmo2Processor"))
    assert processor_added_tokens("CLIPProcessor") == []


def test_image_id_is_the_expanded_token(built: dict[str, Any]) -> None:
    vocab = _saved(built, "ovis2", "Ovis2Model", "tokenizer.json")
    ids = {t["content"]: t["id"] for t in vocab["added_tokens"]}
    config = _saved(built, "ovis2", "Ovis2Model", "config.json")
    assert config["image_token_id"] == ids["<IMG_ATOM>"] != ids["<image>"]


def test_aliased_field_keeps_the_image_id(built: dict[str, Any]) -> None:
    # Molmo2 maps image_token_id and video_token_id onto image_patch_id.
    vocab = _saved(built, "molmo2", "Molmo2Model", "tokenizer.json")
    ids = {t["content"]: t["id"] for t in vocab["added_tokens"]}
    assert _saved(built, "molmo2", "Molmo2Model", "config.json")["image_patch_id"] == ids["<im_patch>"]


def test_override_switches_a_none_subconfig_on() -> None:
    tiny = tiny_config_dict("gemma4_unified")
    assert isinstance(tiny["vision_config"], dict)
    assert tiny["vision_config"]["mm_embed_dim"] == 32  # shrunk like any other tower (default 3840)


def test_half_dtype_config_saves_half_weights(built: dict[str, Any]) -> None:
    config = _saved(built, "llama4_vision_model", "Llama4VisionModel", "config.json")
    assert config["dtype"] == "bfloat16"
