"""Config <-> tokenizer alignment (`preprocess.align`): vocabulary sizes covering every id a tokenizer
emits, text-indexed tables, vocabularies without a tokenizer, media code ranges laid out after the
vocabulary, image ids that follow the token a processor repeats, codebook decoders that keep the
codec's vocabulary, and decoder vocabularies that follow the tokenizer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import arch_levels, build_in_process, build_selected, levels_of
from tinymodels.config.tiny_config import tiny_config_dict
from tinymodels.options import BuildOptions
from tinymodels.preprocess.align import align_with_tokenizer, tokenizer_vocab_size
from tinymodels.preprocess.tokenization import train_tokenizer
from tinymodels.validate.levels import OK

TYPES = ("apertus1p5", "ovis2", "molmo2", "marian", "musicgen")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """apertus1p5 (code ranges), ovis2 and molmo2 (image ids), marian (decoder vocabulary),
    musicgen (codebook decoder)."""
    return build_in_process(tmp_path_factory, "align", TYPES)


def _json(built: dict[str, Any], model_type: str, arch: str, name: str) -> dict[str, Any]:
    return json.loads((_folder(built, model_type, arch) / name).read_text())


def _folder(built: dict[str, Any], model_type: str, arch: str) -> Path:
    return built["out"] / model_type / arch


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
    assert config["eos_token_id"] == tok.eos_token_id is not None
    assert "bos_token_id" not in config  # only a field the config has is filled


def test_vocabulary_without_tokenizer_shrinks_to_target() -> None:
    from tinymodels.preprocess.align import clamp_token_ids, text_configs

    tiny = tiny_config_dict("glmga")
    clamp_token_ids(tiny, 1024)
    assert tiny["text_config"]["vocab_size"] <= 1024
    omni = tiny_config_dict("qwen2_5_omni")
    assert any(d is omni["thinker_config"]["text_config"] for d in text_configs(omni))


@pytest.mark.slow
def test_code_ranges_follow_the_tiny_vocabulary(built: dict[str, Any]) -> None:
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(built["out"] / "apertus1p5" / "Apertus1p5Model")
    vocab = built["apertus1p5"]["vocab_size"]
    # text tokens | visual codes | audio codes, the embedding table covering all of them
    assert config.image_token_offset >= vocab - config.vision_config.codebook_size - config.audio_config.codebook_size
    assert config.image_token_offset + config.vision_config.codebook_size == config.audio_token_offset
    assert config.audio_token_offset + config.audio_config.codebook_size <= config.text_config.vocab_size


def test_image_id_is_the_expanded_token(built: dict[str, Any]) -> None:
    vocab = _json(built, "ovis2", "Ovis2Model", "tokenizer.json")
    ids = {t["content"]: t["id"] for t in vocab["added_tokens"]}
    config = _json(built, "ovis2", "Ovis2Model", "config.json")
    assert config["image_token_id"] == ids["<IMG_ATOM>"] != ids["<image>"]


def test_aliased_field_keeps_the_image_id(built: dict[str, Any]) -> None:
    # Molmo2 maps image_token_id and video_token_id onto image_patch_id.
    vocab = _json(built, "molmo2", "Molmo2Model", "tokenizer.json")
    ids = {t["content"]: t["id"] for t in vocab["added_tokens"]}
    assert _json(built, "molmo2", "Molmo2Model", "config.json")["image_patch_id"] == ids["<im_patch>"]


def test_marian_decoder_vocabulary_is_the_tokenizers(built: dict[str, Any]) -> None:
    # A larger decoder vocabulary let generate emit ids the tokenizer cannot decode.
    config = _json(built, "marian", "MarianMTModel", "config.json")
    assert config["decoder_vocab_size"] == config["vocab_size"]
    assert built["marian"]["pytorch"]["MarianMTModel"]["levels"]["train"] == "ok"


def test_codebook_decoder_keeps_the_codec_vocabulary(built: dict[str, Any]) -> None:
    # Aligned to the text tokenizer, the decoder emitted codes the EnCodec codebook cannot decode.
    config = json.loads((built["out"] / "musicgen" / "MusicgenForConditionalGeneration" / "config.json").read_text())
    size = config["audio_encoder"]["codebook_size"]
    assert config["decoder"]["vocab_size"] == size
    assert config["text_encoder"]["vocab_size"] != size
    # The start/pad code is the embedding's extra row, which generate filters out of the codes.
    assert config["decoder"]["pad_token_id"] == config["decoder"]["bos_token_id"] == size
    assert config["decoder_start_token_id"] == config["pad_token_id"] == size
    assert arch_levels(built, "musicgen", "MusicgenForConditionalGeneration")["pipeline"] == {"text-to-audio": "ok"}


def test_codebook_decoders_are_told_apart_from_code_and_text_decoders() -> None:
    from tinymodels.preprocess.align import codebook_decoders

    music = {"decoder": {"model_type": "musicgen_decoder", "num_codebooks": 4, "vocab_size": 2048}}
    depth = {"decoder": {"model_type": "x", "num_codebooks": 8, "audio_vocab_size": 2048, "vocab_size": 32000}}
    assert codebook_decoders(music) == [music["decoder"]]
    assert codebook_decoders(depth) == []
    assert codebook_decoders({"num_codebooks": 4, "vocab_size": 2048}) == []  # the top level is the text's


def test_a_code_decoder_gets_no_text_eos() -> None:
    options = BuildOptions()
    tok = train_tokenizer("TokenizersBackend", options.corpus, options.vocab_size)
    music = {"num_codebooks": 4, "vocab_size": 2048, "bos_token_id": None, "eos_token_id": None,
             "pad_token_id": None}
    align_with_tokenizer(music, tok)
    # MusicGen's codes have no end code; the pad id is still the tokenizer's (batched prompts).
    assert music["eos_token_id"] is None and music["bos_token_id"] is None
    assert music["pad_token_id"] == tok.pad_token_id


@pytest.mark.slow  # builds real models
def test_unpadded_head_vocabulary_follows_the_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> None:
    arch = "Inkling2LoopForConditionalGeneration"
    entry = build_selected(tmp_path_factory, "inkling2_loop", (arch,), {"train"})
    assert levels_of(entry, arch)["train"] == OK
    config = json.loads((entry["out"] / arch / "config.json").read_text())
    text = config.get("text_config", config)
    assert text["unpadded_vocab_size"] == text["vocab_size"] == entry["vocab_size"]
