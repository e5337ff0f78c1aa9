"""Processors for multimodal types: model-specific special tokens, settings from the config,
placeholder tokens in the prompt, and the forward pass on the processor's own output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinymodels.build.builder import build_model_type, quiet_libraries
from tinymodels.options import BuildOptions
from tinymodels.preprocess.align import align_with_tokenizer
from tinymodels.preprocess.image_processors import scale_image_grid
from tinymodels.preprocess.special_tokens import (
    add_special_tokens,
    config_special_tokens,
    processor_special_tokens,
)
from tinymodels.preprocess.tokenization import train_tokenizer


@pytest.fixture(scope="module")
def tokenizer() -> Any:
    options = BuildOptions()
    return train_tokenizer("TokenizersBackend", options.corpus, options.vocab_size)


def test_processor_special_tokens_from_signature_and_source() -> None:
    # LlavaProcessor: `image_token="<image>"` default; Gemma3Processor reads tokenizer.boi_token.
    assert processor_special_tokens("LlavaProcessor")["image_token"] == "<image>"
    assert {"boi_token", "eoi_token", "image_token"} <= set(processor_special_tokens("Gemma3Processor"))
    assert not any(n.startswith("add_") for n in processor_special_tokens("PaliGemmaProcessor"))


def test_named_tokens_survive_save_and_reload(tokenizer: Any, tmp_path: Path) -> None:
    from transformers import AutoTokenizer

    before = len(tokenizer)
    added = add_special_tokens(tokenizer, {"image_token": "<image>", "boi_token": "<|boi|>"})
    assert added == ["boi_token", "image_token"]
    assert len(tokenizer) == before + 2
    assert tokenizer("<image>hi")["input_ids"][0] == tokenizer.image_token_id
    tokenizer.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    assert (again.image_token, again.boi_token_id) == ("<image>", tokenizer.boi_token_id)
    assert add_special_tokens(tokenizer, {"image_token": "<other>"}) == []  # present names are kept


def test_config_token_ids_map_to_the_tokenizer(tokenizer: Any) -> None:
    config = {"vocab_size": 32000, "image_token_index": 32000, "text_config": {"video_token_id": 32001}}
    names = config_special_tokens(config, 1024)
    assert set(names) == {"image_token", "video_token"}
    add_special_tokens(tokenizer, names)
    align_with_tokenizer(config, tokenizer)
    assert config["image_token_index"] == tokenizer.image_token_id
    assert config["text_config"]["video_token_id"] == tokenizer.video_token_id
    assert config["image_token_index"] != config["text_config"]["video_token_id"]


def test_image_grid_pinpoints_follow_the_tiny_image_size() -> None:
    tiny = {"image_grid_pinpoints": [[336, 672], [672, 336], [672, 672], [1008, 336]],
            "vision_config": {"image_size": 32}}
    scale_image_grid(tiny)
    assert tiny["image_grid_pinpoints"] == [[32, 64], [64, 32], [64, 64]]


# gemma4_text: a text sub-model that must not borrow its owner's media processors; imagegpt:
# colour clusters derived from the config; musicflamingo: a feature extractor named by data.
TYPES = ("llava", "paligemma", "llava_onevision", "gemma4_text", "imagegpt", "musicflamingo")


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Built in-process once: an image-token VLM with per-type processor data (llava), a VLM whose
    image sequence length comes from the config through the image processor (paligemma), one
    with an any-resolution grid and a video processor (llava_onevision), and one per processor
    mechanism (see TYPES)."""
    quiet_libraries()
    out = tmp_path_factory.mktemp("processors")
    return out, {t: build_model_type(t, BuildOptions(output=out), out / t)[1] for t in TYPES}


@pytest.mark.parametrize("model_type", TYPES)
def test_multimodal_types_validate(builds: tuple[Path, dict[str, dict[str, Any]]], model_type: str) -> None:
    entry = builds[1][model_type]
    failed = {a: e["error"][0] for a, e in entry["pytorch"].items() if not e.get("model")}
    assert entry["pytorch"] and not failed, failed


def test_saved_processor_and_config_agree_on_the_image_token(builds: tuple[Path, dict[str, dict[str, Any]]]) -> None:
    from transformers import AutoConfig, AutoProcessor

    out, entries = builds
    folder = out / entries["llava"]["pytorch"]["LlavaForConditionalGeneration"]["checkpoint"]
    processor = AutoProcessor.from_pretrained(folder)
    config = AutoConfig.from_pretrained(folder)
    assert processor.image_token == "<image>"
    assert processor.tokenizer.convert_tokens_to_ids(processor.image_token) == config.image_token_id


def test_text_sub_models_borrow_no_media_processors() -> None:
    from tinymodels.build.processor_plan import _with_home_components
    from tinymodels.config.discover import processor_classes

    # An image processor and a feature extractor saved side by side overwrite one
    # preprocessor_config.json: a text sub-model takes neither.
    text = _with_home_components("gemma3n_text", processor_classes("gemma3n_text"))
    assert text.image_processor is None and text.feature_extractor is None
    # A vision sub-model still borrows its owner's image processor.
    vision = _with_home_components("glm4v_moe_vision", processor_classes("glm4v_moe_vision"))
    assert vision.image_processor == "Glm4vImageProcessor"


def test_processor_components_from_class_declaration_and_data() -> None:
    from tinymodels.build.processor_plan import _declared_components, split_processor_override
    from tinymodels.config.discover import processor_classes

    # HiggsAudioV2Processor declares `feature_extractor_class = "DacFeatureExtractor"`.
    assert _declared_components(processor_classes("higgs_audio_v2")).feature_extractor == "DacFeatureExtractor"
    # A processor placeholder whose library (torchaudio) is missing is left for the build to report.
    assert _declared_components(processor_classes("musicgen_melody")) == processor_classes("musicgen_melody")
    named, kwargs, rest = split_processor_override(
        {"image_processor": "Idefics3ImageProcessor", "feature_extractor": {"class": "X", "n": 1}, "image_seq_len": 4})
    assert named == {"image_processor": "Idefics3ImageProcessor", "feature_extractor": "X"}
    assert kwargs == {"feature_extractor": {"n": 1}} and rest == {"image_seq_len": 4}


def test_ocr_is_off_and_clusters_fit_the_tiny_config() -> None:
    from transformers import ImageGPTConfig

    from tinymodels.preprocess.image_processors import build_image_processor
    from tinymodels.preprocess.samples import sample_image

    # OCR needs the Tesseract binary: off, the image alone is processed.
    layout = build_image_processor("LayoutLMv3ImageProcessor", None)
    assert layout.apply_ocr is False
    assert "pixel_values" in layout(sample_image(), return_tensors="pt")
    config = ImageGPTConfig(vocab_size=65, n_positions=256)
    gpt = build_image_processor("ImageGPTImageProcessor", config)
    ids = gpt(sample_image(), return_tensors="pt")["input_ids"]
    assert len(gpt.clusters) == 64 and ids.shape[-1] <= 256 and int(ids.max()) < 64


def test_nested_text_configs_get_the_tokenizer_vocabulary() -> None:
    """colpali keeps its text model two levels down (vlm_config.text_config): it must be aligned too."""
    from tinymodels.config.tiny_config import tiny_config_dict
    from tinymodels.preprocess.align import align_with_tokenizer
    from tinymodels.preprocess.tokenization import train_tokenizer

    tiny = tiny_config_dict("colpali")
    tok = train_tokenizer("TokenizersBackend", "builtin", 1024)
    vocab = align_with_tokenizer(tiny, tok)
    assert tiny["vlm_config"]["text_config"]["vocab_size"] == vocab == len(tok)
    assert tiny["vlm_config"]["vocab_size"] == vocab


@pytest.mark.parametrize(("model_type", "image_processor", "expected"), [
    ("glm_image", "GlmImageImageProcessor", 1),  # 2-D patch embedding, no temporal patch size in the config
    ("qwen2_vl", "Qwen2VLImageProcessor", 2),  # the config's own temporal_patch_size
])
def test_image_processor_temporal_patch_follows_the_config(model_type: str, image_processor: str,
                                                           expected: int) -> None:
    import transformers

    from tinymodels.config.tiny_config import check_config, tiny_config_dict
    from tinymodels.preprocess.image_processors import image_config_kwargs

    config = check_config(model_type, tiny_config_dict(model_type))
    cls = getattr(transformers, image_processor)
    assert image_config_kwargs(cls, cls(), config)["temporal_patch_size"] == expected
    # Video processors may group frames for a merge the model does elsewhere: they keep theirs.
    video = transformers.Qwen2VLVideoProcessor
    assert "temporal_patch_size" not in image_config_kwargs(video, video(), check_config("dots3_note",
                                                                                     tiny_config_dict("dots3_note")))
