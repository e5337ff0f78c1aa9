"""Metadata a real checkpoint of the family carries, by general mechanisms (no per-type entries).

- a mask token for masked-LM heads, spelled like the tokenizer's other special tokens;
- a pad token: a tokenizer that trained none pads with its end-of-sequence token, as users do
  (`tokenizer.pad_token = tokenizer.eos_token`), else gets `<pad>`; every text config then carries
  that `pad_token_id`, so sequence-classification heads of decoders handle batches;
- `model_max_length`: the text model's position capacity where it has an absolute position table
  (minus RoBERTa-style offsets), else left unset (transformers' very large value) as real RoPE
  checkpoints do;
- the generation config: the tokenizer's pad id, a `max_length` within the position table
  when the pipelines' default budget of new tokens would not fit, and for a chat model the token
  its template closes an assistant turn with among the EOS ids, so a chat reply stops there;
- special token ids that the tokenizer cannot decode are reported.
"""

from __future__ import annotations

import functools
import importlib
import inspect
from typing import Any, Final, cast

PAD_TOKEN: Final[str] = "<pad>"
# Config fields that say the text model rotates positions (RoPE) instead of looking them up.
_ROPE_FIELDS: Final[tuple[str, ...]] = ("rope_parameters", "rope_theta", "rope_scaling", "rotary_dim", "rotary_pct",
                                        "partial_rotary_factor", "rotary_emb_base", "rotary_value")
# Config fields naming the size of an absolute position table, most specific first.
_POSITION_FIELDS: Final[tuple[str, ...]] = ("max_position_embeddings", "n_positions", "max_target_positions",
                                            "n_ctx", "max_seq_len")
# The pipelines' default budget of new tokens (text-generation, image-text-to-text) and a prompt.
DEFAULT_NEW_TOKENS: Final[int] = 256 + 64


def ensure_pad_token(tokenizer: Any) -> str | None:
    """Give a tokenizer without a pad token one; returns a note for the report, None if it had one."""
    if tokenizer.pad_token is not None:
        return None
    if tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token
        return f"pad token: none in the family's tokenizer; end-of-sequence {tokenizer.eos_token!r} pads, as users do"
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return f"pad token: neither pad nor end-of-sequence token; {PAD_TOKEN!r} added"


def ensure_mask_token(tokenizer: Any) -> str | None:
    """Give the tokenizer of a masked-LM head a mask token when it trained none (every real
    masked-LM checkpoint has one: fill-mask and MLM training insert it); spelled like the
    tokenizer's other special tokens (`[MASK]` beside `[CLS]`, else `<mask>`). Returns a note."""
    if tokenizer.mask_token is not None:
        return None
    bracketed = any(str(t).startswith("[") for t in (tokenizer.cls_token, tokenizer.sep_token, tokenizer.unk_token) if t)
    token = "[MASK]" if bracketed else "<mask>"
    tokenizer.add_special_tokens({"mask_token": token})
    return f"mask token: none trained for a masked-LM head; {token!r} added"


def fill_pad_ids(text_configs: list[dict[str, Any]], tokenizer: Any) -> None:
    """Every text config carries the tokenizer's pad id where it has none (heads that pad read
    `config.pad_token_id`: a decoder's sequence classifier finds the last real token with it)."""
    pad = tokenizer.pad_token_id
    if not isinstance(pad, int):
        return
    for d in text_configs:
        if d.get("pad_token_id") is None:
            d["pad_token_id"] = pad


def text_config(config: Any) -> Any:
    """The config of the text model (the config itself for text-only models)."""
    getter = getattr(config, "get_text_config", None)
    try:
        return getter(decoder=True) if callable(getter) else config
    except (TypeError, ValueError):
        return config


def uses_rope(config: Any) -> bool:
    """Whether the text model rotates positions (no absolute table to outgrow)."""
    if str(getattr(config, "position_embedding_type", "")) == "rotary":
        return True
    return any(getattr(config, name, None) is not None for name in _ROPE_FIELDS)


@functools.cache
def _offsets_positions_by_padding(module_name: str) -> bool:
    """Whether a modeling module numbers positions after the padding index (RoBERTa's
    `create_position_ids_from_input_ids`): its table then holds padding_idx + 1 fewer tokens."""
    try:
        source = inspect.getsource(importlib.import_module(module_name))
    except (ImportError, OSError, TypeError):
        return False
    return "create_position_ids_from_input_ids" in source


def position_capacity(config: Any) -> int | None:
    """Longest token sequence the text model's absolute position table takes, or None when it
    has no such table (RoPE, relative positions)."""
    text = text_config(config)
    if uses_rope(text):
        return None
    size = next((v for f in _POSITION_FIELDS if isinstance(v := getattr(text, f, None), int) and v > 0), None)
    if size is None:
        return None
    module = type(text).__module__.replace(".configuration_", ".modeling_")
    pad = getattr(text, "pad_token_id", None)
    if isinstance(pad, int) and _offsets_positions_by_padding(module):
        size -= pad + 1
    return size if size > 0 else None


def set_model_max_length(tokenizer: Any, config: Any) -> None:
    """`model_max_length` = the position capacity, or transformers' unset value for RoPE/relative
    models (real checkpoints of those families carry a very large value)."""
    from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

    capacity = position_capacity(config)
    tokenizer.model_max_length = capacity if capacity is not None else VERY_LARGE_INTEGER


def complete_generation_config(model: Any, tokenizer: Any | None, family: dict[str, Any] | None = None) -> None:
    """Fill what `generate` and the generation pipelines read: the pad id, a `max_length` inside
    a small position table (the pipelines' default new-token budget would overflow it), and the
    fields of the model's generation family (`family`, from `build.speech.generation_fields`)."""
    own = package_generation_config(model)
    if own is not None:
        model.generation_config = own
    gen = getattr(model, "generation_config", None)
    if gen is None:
        return
    for key, value in (family or {}).items():
        setattr(gen, key, value)
    if own_generate_skips_defaults(cast(type, type(model))):  # (cast: mypy takes type[Any] for unhashable)
        # Its `generate` reads the generation config as saved (MusicGen's decoder expands by
        # `num_return_sequences`): the checkpoint carries transformers' defaults, as older ones did.
        for key, value in gen._get_default_generation_params().items():
            if value is not None and getattr(gen, key, None) is None:
                setattr(gen, key, value)
        gen._from_model_config = False
    if family:
        # Not a config-derived default any more: transformers rebuilds those from config.json on load.
        gen._from_model_config = False
    if tokenizer is not None and getattr(gen, "pad_token_id", None) is None and isinstance(tokenizer.pad_token_id, int):
        gen.pad_token_id = tokenizer.pad_token_id
    stops = chat_stop_ids(model.config, gen, tokenizer)
    if stops:
        gen.eos_token_id = stops if len(stops) > 1 else stops[0]
        gen._from_model_config = False  # else transformers rebuilds it from config.json on load
    capacity = position_capacity(model.config)
    if capacity is not None and capacity < DEFAULT_NEW_TOKENS and getattr(gen, "max_length", None) in (None, 20):
        gen.max_length = capacity


def chat_stop_ids(config: Any, gen: Any, tokenizer: Any | None) -> list[int] | None:
    """The EOS ids of a chat model's generation config, None to keep them: a chat reply stops at
    the tokenizer's EOS (also where the config has no EOS field at all: Qwen3-VL, GLM-4V) and at
    the token the template closes an assistant turn with, as instruct checkpoints list them
    (Qwen's <|im_end|>, Llama 3's <|eot_id|>). A model that emits codec codes (MusicGen) does not
    stop on text tokens."""
    from tinymodels.preprocess.align import emits_codes

    if tokenizer is None or not getattr(tokenizer, "chat_template", None):
        return None
    try:
        text = config.get_text_config(decoder=True)
    except ValueError:  # several text configs (an encoder and a decoder): the model's own
        text = config
    if emits_codes(text.to_dict()):
        return None
    eos = gen.eos_token_id if isinstance(gen.eos_token_id, list) else [gen.eos_token_id]
    stops = [i for i in eos if isinstance(i, int)]
    for extra in (tokenizer.eos_token_id if not stops else None, _turn_end_id(tokenizer)):
        if isinstance(extra, int) and extra not in stops:
            stops.append(extra)
    return stops if stops != eos else None


_TURN_MARK: Final[str] = "tinymodels turn mark"


def _turn_end_id(tokenizer: Any) -> int | None:
    """The special token a tokenizer's chat template writes right after an assistant turn's text
    (`<|im_end|>`, `<|eot_id|>`, `<end_of_turn>`, or the EOS itself), read from the rendered
    template, so any template, ours or a checkpoint's own, answers; None when no special token
    closes the turn. The caller has checked that there is a template."""
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": _TURN_MARK}]
    try:
        text = tokenizer.apply_chat_template(messages, tokenize=False)
    except Exception:  # noqa: BLE001 - a template that needs other roles or arguments: no turn end
        return None
    if not isinstance(text, str) or _TURN_MARK not in text:
        return None
    after = text.split(_TURN_MARK, 1)[1].lstrip()
    # Matched as text, not encoded: some tokenizers only take words and boxes (UDOP).
    tokens = {str(t): i for i, t in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items()}
    tokens.update(zip(tokenizer.all_special_tokens, tokenizer.all_special_ids, strict=False))
    found = max((t for t in tokens if t and after.startswith(t)), key=len, default=None)
    return None if found is None else tokens[found]


@functools.cache
def own_generate_skips_defaults(cls: type) -> bool:
    """Whether the model class defines its own `generate` that neither merges transformers'
    default generation parameters (`_prepare_generation_config`) nor hands over to a `generate`
    that does (`super().generate`, a language model's `generate`)."""
    owner = next((c for c in inspect.getmro(cls) if "generate" in vars(c)), None)
    if owner is None or owner.__module__.startswith("transformers.generation"):
        return False
    try:
        source = _code_without_docstring(inspect.getsource(vars(owner)["generate"]))
    except (OSError, TypeError, SyntaxError):
        return False
    return "_prepare_generation_config" not in source and ".generate(" not in source


def _code_without_docstring(source: str) -> str:
    """A function's code without its docstring (whose usage examples call `model.generate(`)."""
    import ast
    import textwrap

    func: Any = ast.parse(textwrap.dedent(source)).body[0]  # a def, whose `body` is replaced below
    body = getattr(func, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        func.body = body[1:] or [ast.Pass()]
    return ast.unparse(func)


@functools.cache
def generation_config_data() -> dict[str, dict[str, Any]]:
    """`configs` of `resources/generation.yaml`: generation-config class name → its fields (each
    with a reason: the schema requires it when the file loads)."""
    from tinymodels.knowledge import load_resource

    return dict(load_resource("generation.yaml").get("configs") or {})


def package_generation_config(model: Any) -> Any | None:
    """The generation config of the class the model's package defines, when `generation.yaml`
    describes it (Bark's generate reads its sub-models' configs from it), with its fields
    evaluated against the tiny config; None otherwise."""
    from tinymodels.validate.shapes import _dim

    package = type(model).__module__.rsplit(".", 1)[0]
    try:
        # Where transformers keeps a family's generation configs (not exported by the package).
        module = importlib.import_module(f"{package}.generation_configuration_{package.rsplit('.', 1)[-1]}")
    except ImportError:
        return None
    for name, raw in generation_config_data().items():
        cls = getattr(module, name, None)
        if cls is None:
            continue

        def value(v: Any) -> Any:
            if isinstance(v, dict):
                return {k: value(x) for k, x in v.items()}
            return _dim(v, model.config, {}) if isinstance(v, int | str) and not isinstance(v, bool) else v

        own = cls(**{k: value(v) for k, v in raw.items() if k != "reason"})
        # As a checkpoint's generation_config.json loads (a GenerationConfig holding the class's
        # fields, sub-configs as dicts): Bark's class cannot be saved itself (it skips
        # GenerationConfig.__init__, so validation misses fields, transformers 5.24).
        from transformers import GenerationConfig

        return GenerationConfig.from_dict(own.to_dict())
    return None


def undecodable_ids(config: Any, tokenizer: Any) -> list[str]:
    """`*_token_id` fields of the text config and generation config outside what the tokenizer
    decodes (ids ≥ its length), as "field=id" strings."""
    size = len(tokenizer)
    bad = []
    for where, obj in (("config", text_config(config)),):
        for key, value in sorted(vars(obj).items()):
            if key.endswith("_token_id") and isinstance(value, int) and not isinstance(value, bool) \
                    and not 0 <= value < size:
                bad.append(f"{where}.{key}={value}")
    return bad
