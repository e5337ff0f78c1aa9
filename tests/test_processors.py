"""Processors for multimodal types: model-specific special tokens, settings from the config,
placeholder tokens in the prompt, and the forward pass on the processor's own output."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tinymodels.align import align_with_tokenizer
from tinymodels.builder import build_model_type, quiet_libraries
from tinymodels.options import BuildOptions
from tinymodels.processors import (
    add_special_tokens,
    config_special_tokens,
    processor_special_tokens,
    scale_image_grid,
)
from tinymodels.tokenization import train_tokenizer


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


TYPES = ("llava", "paligemma", "llava_onevision")


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, dict[str, Any]]]:
    """Built in-process once: an image-token VLM with per-type processor data (llava), a VLM whose
    image sequence length comes from the config through the image processor (paligemma), and one
    with an any-resolution grid and a video processor (llava_onevision)."""
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
