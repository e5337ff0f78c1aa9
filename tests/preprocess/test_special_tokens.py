"""Special tokens a processor needs (`preprocess.processors`): placeholder strings processors hard-code
or write themselves, tokens read with getattr, tokens a processor adds itself, and pad tokens for
padding processors."""

from __future__ import annotations

from tinymodels.options import BuildOptions
from tinymodels.preprocess.special_tokens import (
    add_pad_token,
    pads_by_default,
    processor_added_tokens,
    processor_special_tokens,
)
from tinymodels.preprocess.tokenization import train_tokenizer


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


def test_tokens_read_with_getattr_are_named() -> None:
    # Gemma4Processor reads `getattr(tokenizer, "boa_token", None)` and fails without it.
    names = processor_special_tokens("Gemma4Processor")
    assert {"audio_token", "boa_token", "eoa_token"} <= set(names)


def test_literal_placeholders_are_read_from_processor_code() -> None:
    # f"<IMG_START>{'<IMG_ATOM>' * n}<IMG_GRID>" and ["<im_patch>"] * width, not docstrings.
    assert {"<IMG_ATOM>", "<IMG_START>", "<IMG_END>"} <= set(processor_added_tokens("Ovis2Processor"))
    assert {"<im_patch>", "<im_col>", "<low_res_im_start>"} <= set(processor_added_tokens("Molmo2Processor"))
    assert processor_added_tokens("CLIPProcessor") == []


def test_self_added_processor_tokens_are_added_unnamed() -> None:
    # BLIP-2 adds `<image>` itself and reads `.content`: it must not become a named str token.
    assert processor_added_tokens("Blip2Processor") == ["<image>"]
    assert "image_token" not in processor_special_tokens("Blip2Processor")
    # Literal placeholders the processor writes are listed too, each once.
    added = processor_added_tokens("LlavaProcessor")
    assert added == list(dict.fromkeys(added)) and set(added) <= {"<image>"}
