"""Special tokens of a tokenizer: the named model-specific ones its processor and config expect.

A `ProcessorMixin` reads tokens off its tokenizer (`tokenizer.image_token`, `.boi_token_id`) or
writes placeholder strings into prompts; a real checkpoint's tokenizer holds them. Which ones a
class needs is read from transformers' source of the processor's module (signature defaults,
`tokenizer.<name>_token` reads, `hasattr` fallbacks, hard-coded assignments, literal
placeholders), and from the config's `*_token_id` fields; the trained tokenizer then gets them.
"""

from __future__ import annotations

import inspect
import re
import sys
from typing import Any

# Special tokens every tokenizer already names; a processor never needs them added.
_STANDARD_TOKENS = frozenset({"bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token",
                              "mask_token", "decoder_start_token"})
# `tokenizer.<name>_token` or `tokenizer.<name>_token_id` in a processor's source.
_TOKEN_REF = re.compile(r"tokenizer\.(\w+_token)(?:_id|_ids)?\b")
# `getattr(tokenizer, "audio_token", None)`: the same read, tolerant of a missing token (Gemma 4
# still needs it: its processor checks `boa_token` whether or not audio is passed).
_TOKEN_GETATTR = re.compile(r"getattr\(\s*tokenizer\s*,\s*[\"'](\w+_token)(?:_id|_ids)?[\"']")
_TOKEN_FALLBACK = re.compile(r"[\"']([^\"'\s]+)[\"']\s+if\s+not\s+hasattr\(\s*tokenizer\s*,\s*[\"'](\w+_token)[\"']\s*\)")
# A token value in source: a string literal or a module/class constant (`IMAGE_TOKEN`, `self.IMAGE_TOKEN`).
_VALUE = r"(?:[\"']([^\"'\s]+)[\"']|(?:self\.|cls\.)?([A-Z][A-Z0-9_]*))"
# `tokenizer.image_token if hasattr(tokenizer, "image_token") else "<image>"` (or `else
# tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)`): the fallback is the checkpoint's token string.
_TOKEN_FALLBACK_AFTER = re.compile(r"hasattr\(\s*tokenizer\s*,\s*[\"'](\w+_token)[\"']\s*\)\s*else\s+"
                                   r"(?:tokenizer\.convert_tokens_to_ids\(\s*)?" + _VALUE)
# `self.image_token = "<imgpad>"`: a processor that hard-codes its placeholder puts exactly this
# string in the prompt, whatever the tokenizer names, so the tokenizer must hold it as one token.
_TOKEN_ASSIGN = re.compile(r"self\.(\w+_token)\s*=\s*" + _VALUE + r"\s*(?:#.*)?$", re.MULTILINE)


def _token_string(name: str) -> str:
    """A readable, unambiguous token string for a named special token (`image_token` -> `<|image|>`)."""
    return f"<|{name.removesuffix('_token')}|>"


_TOKEN_SELF_ADDED = re.compile(r"self\.(\w+_token)\s*=\s*AddedToken\(\s*[\"']([^\"']+)[\"']")


def processor_added_tokens(class_name: str) -> list[str]:
    """Tokens a `ProcessorMixin` adds to its tokenizer itself when the tokenizer names none
    (`self.image_token = AddedToken("<image>", ...)`, BLIP-2). Added to the trained tokenizer
    beforehand (unnamed), so that their ids are inside the vocabulary the config is sized to."""
    import transformers

    cls = getattr(transformers, class_name, None)
    module = sys.modules.get(cls.__module__) if cls is not None else None
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        return []
    return list(dict.fromkeys([text for _, text in _TOKEN_SELF_ADDED.findall(source)] + _literal_placeholders(source)))


# A placeholder token spelled out in a processor's code: `<IMG_ATOM>`, `<im_patch>`, `<|image_pad|>`.
_LITERAL_TOKEN = re.compile(r"<\|?[A-Za-z][A-Za-z0-9_]{2,}\|?>")


def _literal_placeholders(source: str) -> list[str]:
    """Token strings a processor writes into prompts itself (Ovis2's
    `f"<IMG_START>{'<IMG_ATOM>' * n}<IMG_END>"`, Molmo2's `["<im_patch>"] * width`): real
    checkpoints' tokenizers hold each as one token, whose id the model looks for, so the trained
    tokenizer gets them too. Read from the module's string constants outside docstrings."""
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    docstrings = {id(node.value) for node in ast.walk(tree)
                  if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            found.extend(_LITERAL_TOKEN.findall(node.value))
    return list(dict.fromkeys(found))


def add_plain_tokens(tokenizer: Any, texts: list[str]) -> int:
    """Add special tokens the tokenizer lacks without naming them (see `processor_added_tokens`);
    returns how many were added."""
    from tokenizers import AddedToken

    vocab = tokenizer.get_vocab()
    new = [AddedToken(t, normalized=False, special=True) for t in dict.fromkeys(texts) if t not in vocab]
    return tokenizer.add_tokens(new, special_tokens=True) if new else 0


def processor_special_tokens(class_name: str) -> dict[str, str]:
    """Named special tokens a `ProcessorMixin` class expects on its tokenizer: name -> token string.

    Read from the class itself: its `__init__` `*_token` parameters with string defaults (their
    values are what checkpoints use), the `tokenizer.<name>_token[_id]` attributes its module
    reads (those have no default: the tokenizer of a real checkpoint carries them), the fallback
    strings of `hasattr(tokenizer, ...)` tests, and `self.<name>_token = "<literal>"` (or a
    module/class constant) assignments, which win: the processor writes exactly that string.
    """
    import transformers

    cls = getattr(transformers, class_name, None)
    if cls is None:
        return {}
    out: dict[str, str] = {}
    module = sys.modules.get(cls.__module__)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        source = ""
    # `"<|image_pad|>" if not hasattr(tokenizer, "image_token") else tokenizer.image_token`: the
    # literal is the checkpoint's token string (retrieval/prefix prompts hard-code it too).
    for text, name in _TOKEN_FALLBACK.findall(source):
        out.setdefault(name, text)
    for name, text, const in _TOKEN_FALLBACK_AFTER.findall(source):
        value = text or getattr(cls, const, None) or getattr(module, const, None)
        if isinstance(value, str) and value:
            out.setdefault(name, value)
    # Hard-coded assignments win over derived names: they are what the processor really writes.
    assigned: dict[str, str] = {}
    for name, text, const in _TOKEN_ASSIGN.findall(source):
        value = text or getattr(cls, const, None) or getattr(module, const, None)
        # Escapes (`"\\n"`) in source are not the token's characters: only plain literals count.
        if isinstance(value, str) and value and "\\" not in value and name not in _STANDARD_TOKENS:
            assigned.setdefault(name, value)
    for name in _TOKEN_REF.findall(source) + _TOKEN_GETATTR.findall(source):
        # `add_bos_token` and the like are tokenizer flags, not tokens.
        if name not in _STANDARD_TOKENS and not name.startswith("add_"):
            out.setdefault(name, _token_string(name))
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name.endswith("_token") and name not in _STANDARD_TOKENS and isinstance(param.default, str):
            out[name] = param.default
    out.update(assigned)
    # `self.image_token = AddedToken("<image>", ...)` when the tokenizer has none (BLIP-2): the
    # processor adds the token itself and later reads its `.content`, which a named (str) token
    # on the tokenizer would lack.
    for name, _ in _TOKEN_SELF_ADDED.findall(source):
        out.pop(name, None)
    return out


def config_special_tokens(config: dict[str, Any], vocab: int) -> dict[str, str]:
    """Named tokens for the config's model-specific token ids outside the trained vocabulary.

    `image_token_index: 32000` becomes a special token `image_token`, so every model-specific
    id gets its own distinct id in the tokenizer instead of all being clamped onto one.
    """
    out: dict[str, str] = {}
    todo = [config]
    while todo:
        d = todo.pop()
        for key, value in d.items():
            if isinstance(value, dict):
                todo.append(value)
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < vocab:
                continue
            for suffix in ("_token_id", "_token_index"):
                name = key[: -len(suffix)] + "_token"
                if key.endswith(suffix) and name not in _STANDARD_TOKENS:
                    out.setdefault(name, _token_string(name))
    return out


def pads_by_default(class_name: str) -> bool:
    """Whether a `ProcessorMixin` class pads its text by default (IDEFICS: `padding="longest"`),
    which needs a pad token on the tokenizer even for a single prompt."""
    import transformers

    cls = getattr(transformers, class_name, None)
    if cls is None:
        return False
    defaults = dict(getattr(getattr(cls, "valid_processor_kwargs", None), "_defaults", {}) or {})
    text = {**(defaults.get("text_kwargs") or {}), **(getattr(cls, "text_kwargs", None) or {})}
    return bool(text.get("padding"))


PAD_TOKEN = "<pad>"


def add_pad_token(tokenizer: Any) -> bool:
    """Give a tokenizer without one a distinct pad token (real checkpoints of padding processors
    ship one); True if it was added."""
    if tokenizer.pad_token is not None:
        return False
    tokenizer.add_special_tokens({"pad_token": PAD_TOKEN})
    return True


def add_special_tokens(tokenizer: Any, tokens: dict[str, str]) -> list[str]:
    """Add named special tokens (`tokenizer.image_token`, `.image_token_id`…) the tokenizer lacks.

    They are saved with the tokenizer, so the reloaded processor finds them too. Returns the names added.
    """
    from tokenizers import AddedToken

    new: dict[str, Any] = {}
    for name, text in tokens.items():
        if name in _STANDARD_TOKENS:
            continue
        try:
            current = getattr(tokenizer, name)
        except AttributeError:
            current = None
        if isinstance(current, str) and current:
            continue
        new[name] = AddedToken(text, special=True, normalized=False)
    if not new:
        return []
    # The tokenizer API for named model-specific tokens (what `extra_special_tokens={...}` does on load).
    tokenizer._set_model_specific_special_tokens(new)
    tokenizer.add_tokens(list({str(t): t for t in new.values()}.values()), special_tokens=True)
    return sorted(new)
