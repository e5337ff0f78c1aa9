"""Align a tiny config dict with its tokenizer: vocabulary size and special-token ids.

General rules, applied to the top-level config and every text-like sub-config:
- `vocab_size` becomes `len(tokenizer)` (added tokens included);
- `<name>_token_id` / `<name>_token_index` take the tokenizer's `<name>_token_id` when it has one
  (model-specific tokens such as `image_token` are added to the tokenizer beforehand, see
  `special_tokens.add_special_tokens`);
- any other token id or token-id list outside the vocabulary is brought inside it;
- a decoder that emits codec codes (`codebook_decoders`) keeps the codebook as its vocabulary.
"""

from __future__ import annotations

from typing import Any

from tinymodels.config.walk import config_tree, is_subconfig, sub_dicts

# Sub-config keys that carry the text vocabulary.
_TEXT_KEYS = ("text_config", "decoder", "encoder", "language_config", "llm_config", "text_encoder",
              "decoder_config", "encoder_config", "thinker_config", "talker_config", "qformer_config")
# Config token fields -> the tokenizer attribute that answers them when the names differ.
_ALIASES = {"decoder_start_token_id": ("bos_token_id", "eos_token_id", "pad_token_id")}


def _is_token_field(key: str) -> bool:
    return key.endswith(("_token_id", "_token_index", "_token_ids")) or key in ("suppress_tokens",
                                                                                 "begin_suppress_tokens")


def _tokenizer_attr(key: str) -> str:
    """The tokenizer attribute answering a config token field: `image_token_index` -> `image_token_id`."""
    return key.removesuffix("_index") + "_id" if key.endswith("_token_index") else key


# Fields a config may leave None that a checkpoint's config carries from its tokenizer: models
# compare ids against them (ESM's embeddings: `input_ids.ne(pad_token_id)`, `input_ids ==
# mask_token_id`), and generate stops at the EOS and starts from the BOS the generation config
# takes from them (Qwen2/3, GPT-OSS, MPT and GLM-4 MoE default both to None, where a real
# checkpoint names its tokenizer's). A None here is filled when the tokenizer has the token, but
# never a text BOS/EOS into a decoder that emits codec codes (MusicGen's has no end code).
_FILL_WHEN_NONE = ("pad_token_id", "mask_token_id", "bos_token_id", "eos_token_id")
_TEXT_ONLY = ("bos_token_id", "eos_token_id")


def _fix_ids(d: dict[str, Any], tokenizer: Any, vocab: int) -> None:
    codes = emits_codes(d)
    for key in _FILL_WHEN_NONE:
        if codes and key in _TEXT_ONLY:
            continue
        tok_id = getattr(tokenizer, key, None)
        if key in d and d[key] is None and isinstance(tok_id, int) and 0 <= tok_id < vocab:
            d[key] = tok_id
    for key, value in list(d.items()):
        if not _is_token_field(key) or value is None or isinstance(value, bool):
            continue
        if isinstance(value, int):
            tok_id = getattr(tokenizer, _tokenizer_attr(key), None)
            for alias in _ALIASES.get(key, ()):
                if tok_id is None:
                    tok_id = getattr(tokenizer, alias, None)
            if isinstance(tok_id, int) and 0 <= tok_id < vocab:
                d[key] = tok_id
            elif value >= vocab:
                d[key] = vocab - 1
        elif isinstance(value, list) and all(isinstance(v, int) for v in value):
            kept = [v for v in value if v < vocab]
            if key == "eos_token_id" and getattr(tokenizer, "eos_token_id", None) is not None:
                kept = [tokenizer.eos_token_id]
            d[key] = kept


# A decoder sub-config that emits audio codes, one stream per codebook, declares how many.
_CODEBOOK_FIELD = "num_codebooks"
# Fields that give such a decoder a code vocabulary beside a text one (Kyutai, Moshi's depth decoder):
# then its `vocab_size` is the text's.
_CODE_VOCAB_FIELDS = ("audio_vocab_size", "codebook_vocab_size")


def emits_codes(d: dict[str, Any]) -> bool:
    """A decoder config whose vocabulary is a codec's codebook, not the tokenizer's (MusicGen's
    decoder): it declares `num_codebooks` and no separate code vocabulary."""
    return _CODEBOOK_FIELD in d and not any(f in d for f in _CODE_VOCAB_FIELDS)


def codebook_decoders(config: dict[str, Any]) -> list[dict[str, Any]]:
    """Decoder sub-configs (under a text key) that emit codec codes (`emits_codes`)."""
    subs = [config[k] for k in _TEXT_KEYS if isinstance(config.get(k), dict)]
    return [d for d in subs if emits_codes(d)]


def _codebook_size(config: dict[str, Any]) -> int | None:
    """The codebook size of the codec sub-config beside a codebook decoder (MusicGen's EnCodec)."""
    return next((v["codebook_size"] for v in config.values()
                 if isinstance(v, dict) and isinstance(v.get("codebook_size"), int)), None)


def align_codebook_decoders(config: dict[str, Any]) -> None:
    """A codebook decoder's vocabulary is its codec's codebook size; its embedding holds one more
    row (MusicGen: `vocab_size + 1`), the start/pad code of the delay pattern, which its `bos`
    and `pad` ids and the model's `decoder_start_token_id` and `pad_token_id` name (the model's
    generation config takes them, and generate filters that pad out of the codes it hands the codec)."""
    for d in codebook_decoders(config):
        size = _codebook_size(config) or d.get("vocab_size")
        if not isinstance(size, int):
            continue
        d["vocab_size"] = size
        for key in ("bos_token_id", "pad_token_id", "decoder_start_token_id"):
            if key in d:
                d[key] = size
        config["decoder_start_token_id"] = config["pad_token_id"] = size


def text_configs(config: dict[str, Any]) -> list[dict[str, Any]]:
    """The config and every sub-config that carries the text vocabulary.

    Text sub-configs are found by key one level down (text_config, decoder…); deeper ones
    (colpali's vlm_config.text_config, t5gemma2's encoder.text_config) by sharing the text
    vocabulary's default size, which a tokenizer-sized embedding table must then match too.
    """
    direct = [config] + [config[k] for k in _TEXT_KEYS if isinstance(config.get(k), dict)]
    # A text key holding a multimodal config (qwen2_5_omni's thinker_config) carries the text
    # vocabulary one level further down, in its own text_config.
    direct += [d["text_config"] for d in direct[1:]
               if "vocab_size" not in d and isinstance(d.get("text_config"), dict)]
    nested = list(sub_dicts(config))
    sizes = {d["vocab_size"] for d in direct if isinstance(d.get("vocab_size"), int)}
    if not sizes:
        # No vocabulary at the usual places (a wrapper config): the largest one in the tree is the text's.
        sizes = {max((d["vocab_size"] for d in nested if isinstance(d.get("vocab_size"), int)), default=-1)}
    codes = {id(d) for d in codebook_decoders(config)}
    direct = [d for d in direct if id(d) not in codes]
    seen = {id(d) for d in direct} | codes
    return direct + [d for d in nested if id(d) not in seen and d.get("vocab_size") in sizes]


_PROBE = "Hello world! This tiny model reads a short sentence, café 123."


def tokenizer_vocab_size(tokenizer: Any) -> int:
    """The embedding rows a tokenizer's ids need: `len(tokenizer)`, or more when it emits ids it
    does not count (M2M100's language tokens `__en__`… sit after its sentencepiece vocabulary;
    `*_to_id` tables such as `lang_token_to_id` list them all)."""
    from tinymodels.preprocess.tokenization import encode_text

    ids = [len(tokenizer) - 1, *getattr(tokenizer, "all_special_ids", [])]
    ids.extend(tokenizer.get_vocab().values())
    for name, value in vars(tokenizer).items():
        if name.endswith("_to_id") and isinstance(value, dict):
            ids.extend(v for v in value.values() if isinstance(v, int))
    ids.extend(encode_text(tokenizer, _PROBE))
    return 1 + max(i for i in ids if isinstance(i, int) and not isinstance(i, bool))


# Embedding tables besides `vocab_size` that the text token ids index (Gemma 3n/4's per-layer
# inputs; CSM's text embeddings, its `vocab_size` being the audio codebook's). The shrink rules
# cap them as secondary vocabularies, so they must grow with the tokenizer.
_TEXT_VOCAB_FIELDS = ("text_vocab_size", "vocab_size_per_layer_input")


# Output vocabularies that decode with the same tokenizer (Marian's decoder): a larger one emits ids
# the tokenizer cannot decode ("piece id is out of range"), a smaller one breaks the loss's reshape.
# An "unpadded" head size (Inkling 2's: the embedding rows are padded past the tokenizer's ids, the
# head predicts exactly those) left below the tokenizer by the shrink makes its own token ids
# out-of-range training targets.
_SAME_VOCAB_FIELDS = ("decoder_vocab_size", "unpadded_vocab_size")


def align_with_tokenizer(config: dict[str, Any], tokenizer: Any) -> int:
    """Update `config` (a dict, in place) for `tokenizer`; returns the vocabulary size."""
    vocab = tokenizer_vocab_size(tokenizer)
    for d in text_configs(config):
        if "vocab_size" in d:
            d["vocab_size"] = vocab
        for key in _TEXT_VOCAB_FIELDS:
            # 0 switches the table off (Gemma 4 assistant): only a live table grows.
            if isinstance(d.get(key), int) and 0 < d[key] < vocab:
                d[key] = vocab
        for key in _SAME_VOCAB_FIELDS:
            if isinstance(d.get(key), int):
                d[key] = vocab
        _fix_ids(d, tokenizer, vocab)
    if "vocabulary_map" in config and config["vocabulary_map"] is None:
        # The config's copy of the tokenizer's vocabulary (chameleon, emu3): the model finds
        # `<image>` and its VQ codebook tokens in it by name.
        config["vocabulary_map"] = dict(sorted(tokenizer.get_vocab().items(), key=lambda kv: kv[1]))
    align_codebook_decoders(config)
    if config.get("is_encoder_decoder") and config.get("decoder_start_token_id") is None:
        # Seq2seq generation needs a start token; T5-style models start from pad.
        start = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.bos_token_id
        if start is not None:
            config["decoder_start_token_id"] = start
    return append_code_ranges(config, vocab)


def append_code_ranges(config: dict[str, Any], vocab: int) -> int:
    """Token ranges of discrete media codes (`code + image_token_offset`…) follow the text
    vocabulary (`repair_fields.lay_out_code_ranges`); the text embedding table grows to cover them.
    Returns the vocabulary size."""
    from tinymodels.config.repair_fields import lay_out_code_ranges

    end = lay_out_code_ranges(config, vocab)
    if end is None:
        return vocab
    for d in text_configs(config):
        if isinstance(d.get("vocab_size"), int) and d["vocab_size"] < end:
            d["vocab_size"] = end
    return max(vocab, end)


def clamp_token_ids(config: dict[str, Any], vocab: int) -> None:
    """Without a tokenizer: vocabularies larger than the target `vocab` shrink to it (no
    tokenizer sets them, and a 150k-row embedding breaks the size budget), and every token id
    stays inside the configured vocabulary."""

    class _NoTokenizer:
        pass

    for d in [config] + [v for v in config.values() if is_subconfig(v)]:
        if isinstance(d.get("vocab_size"), int) and d["vocab_size"] > vocab > 0:
            d["vocab_size"] = vocab
        v = d.get("vocab_size", vocab)
        _fix_ids(d, _NoTokenizer(), v if isinstance(v, int) and v > 0 else vocab)


def align_with_processor(config: Any, processor: Any) -> dict[str, int]:
    """Config placeholder ids ← the ids the processor's output carries for each modality.

    `processor.image_token_ids[0]` (likewise video/audio) is the token a model replaces by media
    features; it is not always the prompt placeholder (Aya Vision expands `<image>` into
    `<|IMG_PATCH|>` tokens), so the config follows the processor, not the token name.
    Returns the config fields changed (for the tests and the log).
    """
    changed: dict[str, int] = {}
    done: set[tuple[int, str]] = set()
    for modality in ("image", "video", "audio"):
        try:
            ids = getattr(processor, f"{modality}_token_ids")
        except Exception:  # noqa: BLE001 - properties of partly-built processors may raise
            continue
        tok_id = ids[0] if isinstance(ids, list | tuple) and ids else None
        token = getattr(processor, f"{modality}_token", None)
        tokenizer = getattr(processor, "tokenizer", None)
        if tok_id is None and token is not None and tokenizer is not None:
            # Processors that add their placeholder themselves (BLIP-2's AddedToken) keep no id.
            tok_id = tokenizer.convert_tokens_to_ids(str(token))
            tok_id = tok_id if tok_id != tokenizer.unk_token_id else None
        if not isinstance(tok_id, int) or isinstance(tok_id, bool) or tok_id < 0:
            continue
        if modality == "image":
            tok_id = _expanded_image_id(processor, tok_id)
        for cfg in config_tree(config):
            aliases = getattr(cfg, "attribute_map", None) or {}
            for key in (f"{modality}_token_id", f"{modality}_token_index"):
                if (id(cfg), aliases.get(key, key)) in done:
                    # Molmo2 maps image_token_id and video_token_id onto one field (image_patch_id):
                    # the first modality's id stays.
                    continue
                value = getattr(cfg, key, None)
                # None: a placeholder field the default config leaves unset (BLIP-2's image_token_index).
                unset = value is None and key in cfg.to_dict()
                if unset or isinstance(value, int) and not isinstance(value, bool) and value != tok_id:
                    setattr(cfg, key, tok_id)
                    changed[key] = tok_id
                if unset or isinstance(value, int):
                    done.add((id(cfg), aliases.get(key, key)))
    return changed


def _expanded_image_id(processor: Any, declared: int) -> int:
    """The id a processor's image expansion really carries: the added token it repeats most when
    that is repeated more often than `declared` (Ovis2 names `<image>` as its image token but
    expands it into `<IMG_ATOM>` tokens, which the model replaces by image features), else
    `declared`."""
    from collections import Counter

    from tinymodels.preprocess.samples import sample_image

    token = getattr(processor, "image_token", None)
    tokenizer = getattr(processor, "tokenizer", None)
    if not isinstance(token, str) or tokenizer is None:
        return declared
    try:
        out = processor(text=token + "Hello", images=sample_image(), return_tensors="pt")
        ids = out["input_ids"][0].tolist()
    except Exception:  # noqa: BLE001 - a processor needing other arguments keeps its declared id
        return declared
    added = set(getattr(tokenizer, "added_tokens_decoder", {}) or {})
    counts = Counter(i for i in ids if i in added)
    best = counts.most_common(1)
    # Llama 4 keeps one `<|image|>` and repeats `<|patch|>`: the repeated token carries the features.
    return best[0][0] if best and best[0][1] > max(1, ids.count(declared)) else declared
