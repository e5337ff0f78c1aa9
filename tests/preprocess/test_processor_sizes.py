"""Processors sized to the tiny config (`preprocess.processors`): pad, tile and encoder patch sizes,
tokens per image, feature sizes and mel bins read from the model (nested sub-configs too), and a
timm processor built from the config's data settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import build_in_process
from tinymodels.config.tiny_config import config_from_dict, tiny_config_dict
from tinymodels.config.upstream_config import tiny_config_for
from tinymodels.options import BuildOptions
from tinymodels.preprocess.feature_extractors import build_feature_extractor
from tinymodels.preprocess.image_processors import build_image_processor
from tinymodels.preprocess.processors import _patches_per_image

TYPES = ("canary", "timm_wrapper")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """canary (mel bins in a nested sub-config), timm_wrapper (image processor from the
    config's `pretrained_cfg`)."""
    return build_in_process(tmp_path_factory, "processor-sizes", TYPES)


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


@pytest.mark.parametrize(("model_type", "processor"), [
    ("minicpm_ocr", "MiniCPMOcrImageProcessor"),  # scale_resolution 448: every slice upsized to it
    ("emu3", "Emu3ImageProcessor"),               # min_pixels 512²: only an __init__ parameter
])
def test_pixel_limits_follow_the_tiny_image(model_type: str, processor: str) -> None:
    """Whatever the processor calls its working resolution, a tiny tower gets tiny images: a
    64-pixel image stays within a few tiny images' worth of pixels (MiniCPM adds slices beside the
    overview), never the 448² or 512² the defaults upsize every image or slice to."""
    import numpy as np

    config = _config(model_type)
    proc = build_image_processor(processor, config)
    image = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    pixels = proc(images=[image], return_tensors="pt")["pixel_values"]
    pixels = pixels[0] if isinstance(pixels, list) else pixels
    per_channel = pixels.numel() // 3
    assert per_channel <= 8 * 64 * 64, f"{processor}: {tuple(pixels.shape)}"


def test_integer_pixel_shuffle_divides_tokens_per_image() -> None:
    tiny, _ = tiny_config_for("idefics3", BuildOptions())
    config = config_from_dict("idefics3", tiny)
    vision = config.vision_config
    patches = (vision.image_size // vision.patch_size) ** 2
    assert _patches_per_image(config) == patches // config.scale_factor ** 2


def test_feature_size_follows_the_model_width() -> None:
    # Pop2Piano feeds its 512 mel bands straight in as d_model-wide embeddings.
    from transformers import BertConfig, Pop2PianoConfig

    from tinymodels.preprocess.feature_extractors import build_feature_extractor

    assert build_feature_extractor("Pop2PianoFeatureExtractor", Pop2PianoConfig(d_model=32)).feature_size == 32
    # A width that is not the extractor's default size says nothing about the features.
    assert build_feature_extractor("Pop2PianoFeatureExtractor", BertConfig(hidden_size=32)).feature_size == 512


def test_feature_extractor_takes_mel_bins_from_a_nested_config(built: dict[str, Any]) -> None:
    # Canary's mel bins live in `encoder_config`; the Parakeet extractor defaults to 80.
    from transformers import AutoConfig, AutoFeatureExtractor, CanaryConfig

    folder = built["out"] / "canary" / "CanaryModel"
    config = AutoConfig.from_pretrained(folder)
    assert AutoFeatureExtractor.from_pretrained(folder).feature_size == config.encoder_config.num_mel_bins
    nested = CanaryConfig(encoder_config={"num_mel_bins": 64})
    assert build_feature_extractor("ParakeetFeatureExtractor", nested).feature_size == 64


def test_feature_extractor_keeps_its_size_without_an_audio_config() -> None:
    from transformers import BertConfig

    assert build_feature_extractor("ParakeetFeatureExtractor", BertConfig()).feature_size == 80


def test_timm_processor_reloads_from_the_checkpoint_config(built: dict[str, Any]) -> None:
    from transformers import AutoConfig, AutoImageProcessor

    folder: Path = built["out"] / "timm_wrapper" / "TimmWrapperModel"
    assert AutoConfig.from_pretrained(folder).pretrained_cfg["input_size"] == [3, 32, 32]
    processor = AutoImageProcessor.from_pretrained(folder)
    assert processor.data_config["input_size"] == (3, 32, 32)
