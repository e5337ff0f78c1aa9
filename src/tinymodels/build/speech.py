"""Whisper-style speech generation: the tokens and generation config its `generate` reads.

A model type whose architectures inherit a mixin named in `resources/generation.yaml` gets, in
the family's order: a start-of-transcript token, language tokens, task tokens, the previous-text
and no-caption tokens, `<|notimestamps|>` as the last special token, then the timestamp tokens
(`<|0.00|>`, `<|0.02|>`, …). The config starts decoding at start-of-transcript and pads with
end-of-text; the generation config gets `no_timestamps_token_id`, `lang_to_id`, `task_to_id`,
suppressed tokens, alignment heads and a `max_length` within the decoder's positions.

A family may instead (or also) name `tables`: generation-config dicts a model's own `generate`
looks keys up in (Pop2Piano's `composer_to_feature_token`, SeamlessM4T's language maps), and
`generate_kwargs`: arguments its `generate` requires that users pass (SeamlessM4T's `tgt_lang`),
which the pipeline level passes too. Which family a model type belongs to is
`config.generation_family`'s.
"""

from __future__ import annotations

from typing import Any, Final, TypeGuard, cast

from tinymodels.config.walk import config_tree

START: Final[str] = "<|startoftranscript|>"
END: Final[str] = "<|endoftext|>"
TASKS: Final[tuple[str, ...]] = ("translate", "transcribe")
# Special tokens between the tasks and <|notimestamps|>, in the family's order.
CONTROL: Final[tuple[str, ...]] = ("<|startoflm|>", "<|startofprev|>", "<|nocaptions|>")
NO_TIMESTAMPS: Final[str] = "<|notimestamps|>"


def has_speech_tokens(family: dict[str, Any] | None) -> TypeGuard[dict[str, Any]]:
    """Whether the family adds Whisper-style tokens (languages, tasks, timestamps)."""
    return bool(family) and "languages" in cast("dict[str, Any]", family)  # (not None: `bool` checked it)


def _languages(count: int) -> list[str]:
    from transformers.models.whisper.tokenization_whisper import LANGUAGES

    return [f"<|{code}|>" for code in list(LANGUAGES)[:count]]


def add_tokens(tokenizer: Any, family: dict[str, Any]) -> None:
    """Add the family's special tokens (in order, <|notimestamps|> last) and timestamp tokens."""
    from tokenizers import AddedToken

    specials = [START, *_languages(int(family["languages"])), *(f"<|{t}|>" for t in TASKS), *CONTROL, NO_TIMESTAMPS]
    extra: dict[str, Any] = {"extra_special_tokens": [AddedToken(t, special=True, normalized=False) for t in specials]}
    if END in tokenizer.get_vocab():
        extra["pad_token"] = END  # the family pads with end-of-text
    tokenizer.add_special_tokens(extra)
    step = float(family["time_precision"])
    stamps = [AddedToken(f"<|{i * step:.2f}|>", special=False, normalized=False)
              for i in range(int(family["timestamps"]))]
    tokenizer.add_tokens(stamps)


def config_fields(tokenizer: Any) -> dict[str, Any]:
    """Config token fields: decode from start-of-transcript, end and pad with end-of-text,
    suppress the control tokens, and a leading space or end at the first step."""
    ids = tokenizer.convert_tokens_to_ids
    end = ids(END) if END in tokenizer.get_vocab() else tokenizer.eos_token_id
    space = tokenizer.get_vocab().get("Ġ")
    return {
        "decoder_start_token_id": ids(START),
        "bos_token_id": end, "eos_token_id": end, "pad_token_id": end,
        "suppress_tokens": [ids(START), *(ids(f"<|{t}|>") for t in TASKS), *(ids(t) for t in CONTROL)],
        "begin_suppress_tokens": [i for i in (space, end) if isinstance(i, int)],
    }


def _table_keys(config: Any, name: str, spec: dict[str, Any]) -> list[str]:
    if "keys" in spec:
        return [str(k) for k in spec["keys"]]
    field = str(spec["count"])
    count = next((v for c in config_tree(config) if isinstance(v := getattr(c, field, None), int)), None)
    if count is None:
        raise ValueError(f"generation.yaml: table {name!r} counts config field {field!r}, which the config lacks")
    return [str(spec["key"]).format(n=n + 1) for n in range(count)]


def table_tokens(family: dict[str, Any] | None) -> list[str]:
    """The tokens the family's `token` tables name (`__eng__`), for the tokenizer to hold."""
    out: list[str] = []
    for spec in ((family or {}).get("tables") or {}).values():
        if spec.get("token"):
            out.extend(str(spec["token"]).format(key=k) for k in spec.get("keys") or ())
    return out


def _vocabulary_table(config: Any, spec: dict[str, Any], tokenizer: Any) -> dict[str, Any]:
    """A table read off the tokenizer: `source: vocabulary` maps each id (as a string) to its
    token's text; `source: characters` numbers the characters of the vocabulary from `first`,
    below the (sub-)config field `limit`."""
    vocab = tokenizer.get_vocab()
    if spec["source"] == "vocabulary":
        return {str(i): tokenizer.convert_tokens_to_string([t]) for t, i in sorted(vocab.items(), key=lambda kv: kv[1])}
    limit = next((v for c in config_tree(config) if isinstance(v := getattr(c, str(spec["limit"]), None), int)), None)
    first = int(spec.get("first", 0))
    chars = sorted({ch for t in vocab for ch in tokenizer.convert_tokens_to_string([t])})
    return {ch: first + n for n, ch in enumerate(chars) if limit is None or first + n < limit}


def table_fields(config: Any, family: dict[str, Any], tokenizer: Any = None) -> dict[str, Any]:
    """The family's `tables`: {field: {key: value}} with the keys listed (`keys`) or numbered
    (`key` formatted with n = 1..`count`, a (sub-)config field), and as values the tokenizer's
    id of `token` formatted with the key, else `first`, `first + 1`, …; or read off the
    tokenizer (`source`, see `_vocabulary_table`)."""
    out = {}
    for name, spec in (family.get("tables") or {}).items():
        if spec.get("source"):
            if tokenizer is not None:
                out[name] = _vocabulary_table(config, spec, tokenizer)
            continue
        keys = _table_keys(config, name, spec)
        if spec.get("token"):
            if tokenizer is None:
                continue
            out[name] = {k: tokenizer.convert_tokens_to_ids(str(spec["token"]).format(key=k)) for k in keys}
        else:
            first = int(spec.get("first", 0))
            out[name] = {k: first + n for n, k in enumerate(keys)}
    return out


def generation_fields(tokenizer: Any, config: Any, family: dict[str, Any]) -> dict[str, Any]:
    """What the family's `generate` reads from the generation config."""
    tables = table_fields(config, family, tokenizer)
    if not has_speech_tokens(family) or tokenizer is None:
        return tables
    ids = tokenizer.convert_tokens_to_ids
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    layers = int(getattr(text, "decoder_layers", 0) or 0)
    heads = int(getattr(text, "decoder_attention_heads", 0) or 0)
    return {
        **tables,
        **config_fields(tokenizer),
        "no_timestamps_token_id": ids(NO_TIMESTAMPS),
        "prev_sot_token_id": ids("<|startofprev|>"),
        "lang_to_id": {t: ids(t) for t in _languages(int(family["languages"]))},
        "task_to_id": {t: ids(f"<|{t}|>") for t in TASKS},
        "is_multilingual": True,
        "max_initial_timestamp_index": int(family["max_initial_timestamp_index"]),
        # A lone timestamp repeated would end every segment without advancing: generate would loop.
        "bad_words_ids": [[ids("<|0.00|>"), ids("<|0.00|>")]],
        # Cross-attention heads of the upper half of the decoder time words (return_timestamps="word").
        "alignment_heads": [[layer, head] for layer in range(layers // 2, layers) for head in range(heads)],
        # Within the decoder's positions: the pipelines would otherwise add 256 new tokens.
        "max_length": int(getattr(text, "max_target_positions", 448) or 448),
    }
