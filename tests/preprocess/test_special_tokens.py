"""Tokenizer / special-token mechanisms: placeholder strings processors hard-code, pad tokens for
padding processors, vocabulary sizes covering every id a tokenizer emits, tokens a processor adds
itself, and tokens-per-image derived from integer pixel-shuffle factors; checked on real types."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import assert_all_validate, build_in_process
from tinymodels.config.tiny_config import config_from_dict
from tinymodels.config.upstream_config import tiny_config_for
from tinymodels.options import BuildOptions
from tinymodels.preprocess.align import align_with_tokenizer, tokenizer_vocab_size
from tinymodels.preprocess.processors import (
    _patches_per_image,
    add_pad_token,
    pads_by_default,
    processor_special_tokens,
)
from tinymodels.preprocess.tokenization import train_tokenizer

# esm: pad id filled from the tokenizer; idefics3: processor grows the tokenizer + pixel shuffle;
# m2m_100: language ids beyond len(tokenizer); cohere_compass: hard-coded placeholder string.
TYPES = ("esm", "idefics3", "m2m_100", "cohere_compass")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "tokens", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_hard_coded_placeholders_are_the_token_strings() -> None:
    # `self.image_token = "<|IMAGE_PAD|>"` is what the processor writes, whatever the tokenizer names.
    assert processor_special_tokens("CohereCompassProcessor")["image_token"] == "<|IMAGE_PAD|>"
    assert processor_special_tokens("FuyuProcessor")["image_token"] == "|SPEAKER|"
    # A class constant (`self.image_token = self.IMAGE_TOKEN`) and a module constant fallback
    # (`... else tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)`) resolve to their strings.
    assert processor_special_tokens("MiniMaxM3VLProcessor")["image_token"] == "]<]image[>["
    assert processor_special_tokens("IdeficsProcessor")["image_token"] == "<image>"
    # The conditional default of Qwen2-VL still holds.
    assert processor_special_tokens("Qwen2VLProcessor")["image_token"] == "<|image_pad|>"


def test_padding_processors_get_a_pad_token() -> None:
    assert pads_by_default("IdeficsProcessor")
    assert not pads_by_default("LlavaProcessor")
    options = BuildOptions()
    tok = train_tokenizer("LlamaTokenizer", options.corpus, options.vocab_size)
    assert tok.pad_token is None
    assert add_pad_token(tok) and tok.pad_token_id is not None
    assert not add_pad_token(tok)  # an existing pad token is kept


def test_vocab_size_covers_ids_beyond_len() -> None:
    options = BuildOptions()
    tok = train_tokenizer("M2M100Tokenizer", options.corpus, options.vocab_size)
    size = tokenizer_vocab_size(tok)
    assert size > len(tok)
    assert max(tok.lang_token_to_id.values()) < size
    assert max(tok("Hello world")["input_ids"]) < size


def test_text_indexed_tables_follow_the_vocab() -> None:
    options = BuildOptions()
    tok = train_tokenizer("TokenizersBackend", options.corpus, options.vocab_size)
    tok.add_tokens(["<extra_a>", "<extra_b>"], special_tokens=True)
    config = {"vocab_size": 1024, "vocab_size_per_layer_input": 1024, "text_vocab_size": 0,
              "pad_token_id": None, "eos_token_id": None}
    vocab = align_with_tokenizer(config, tok)
    assert vocab == len(tok) > 1024
    assert config["vocab_size_per_layer_input"] == vocab
    assert config["text_vocab_size"] == 0  # a table switched off stays off
    assert config["pad_token_id"] == tok.pad_token_id  # None filled from the tokenizer
    assert config["eos_token_id"] is None  # only pad/mask are filled


def test_integer_pixel_shuffle_divides_tokens_per_image() -> None:
    tiny, _ = tiny_config_for("idefics3", BuildOptions())
    config = config_from_dict("idefics3", tiny)
    vision = config.vision_config
    patches = (vision.image_size // vision.patch_size) ** 2
    assert _patches_per_image(config) == patches // config.scale_factor ** 2


def test_tokens_read_with_getattr_are_named() -> None:
    # Gemma4Processor reads `getattr(tokenizer, "boa_token", None)` and fails without it.
    names = processor_special_tokens("Gemma4Processor")
    assert {"audio_token", "boa_token", "eoa_token"} <= set(names)


def test_processor_class_named_by_override_data() -> None:
    from tinymodels.build.builder import split_processor_override
    from tinymodels.knowledge import override_for

    classes, components, rest = split_processor_override({"class": "Kosmos2Processor", "num_image_tokens": 4,
                                                           "image_processor": {"class": "X", "size": 1}})
    assert classes == {"processor": "Kosmos2Processor", "image_processor": "X"}
    assert (components, rest) == ({"image_processor": {"size": 1}}, {"num_image_tokens": 4})
    override = override_for("kosmos-2")
    assert override is not None and split_processor_override(override.processor)[0]["processor"] == "Kosmos2Processor"
