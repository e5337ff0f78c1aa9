"""The generic shrink: every width, count and size field of a config dict capped by the rules.

`resources/shrink_rules.yaml` maps field-name patterns to caps; `shrink_dict` applies them to a
config dict and, recursively, to its sub-configs, then keeps heads dividing the width. The
repairs (`repair.py`) and the tiny config (`tiny_config.py`) both build on it.
"""

from __future__ import annotations

import re
from typing import Any, TypeGuard

from tinymodels.config.walk import is_subconfig
from tinymodels.knowledge import shrink_rules


def is_int(v: Any) -> TypeGuard[int]:
    """An integer field value (a bool is not one)."""
    return isinstance(v, int) and not isinstance(v, bool)


def rule_pattern(name: str) -> re.Pattern[str]:
    """The key pattern of the shrink rule called `name`."""
    return next(r.pattern for r in shrink_rules() if r.name == name)


# Fields that look like widths or counts but must never be touched.
NEVER_SHRUNK: frozenset[str] = frozenset({
    "vocab_size", "num_labels", "id2label", "label2id", "transformers_version", "architectures",
    "torch_dtype", "dtype",
})


def _cap(v: int, cap: int, pow2: bool) -> int:
    if v <= 0:
        return v
    v = min(v, cap)
    return 1 << (v.bit_length() - 1) if pow2 else v


def _shrink_value(value: Any, cap: int, pow2: bool = False) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return _cap(value, cap, pow2)
    if isinstance(value, float) and value > cap:  # multipliers
        return float(cap)
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                         for v in value):
        return type(value)(_cap(v, cap, pow2) for v in value)
    if isinstance(value, list | tuple) and value and all(isinstance(v, list | tuple) for v in value):
        # Per-stage lists of per-block values (stage_block_out_channels).
        return type(value)(_shrink_value(v, cap, pow2) for v in value)
    if isinstance(value, list | tuple) and value:
        # Per-block specs mixing flags and nested strides ([kernel, in, out, [2, 1], use_se]):
        # cap the integers (and nested lists), leave flags, ratios and names alone.
        return type(value)(_shrink_value(v, cap, pow2) if isinstance(v, int | list | tuple) else v
                           for v in value)
    return value


def shrink_dict(d: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Apply the generic shrinking rules to a config dict and all its sub-configs."""
    out: dict[str, Any] = {}
    rules = shrink_rules()
    # A count equal to the length of a list beside it is derived from that list
    # (wav2vec2's num_feat_extract_layers == len(conv_dim)): leave it alone.
    # Only integer lists count, and never for the main depth: per-layer lists (layer_types,
    # per-layer sparsity…) are cut to the shrunk depth by the repairs instead.
    list_lengths = {len(v) for v in d.values() if isinstance(v, list | tuple) and len(v) > 2
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in v)}
    for key, value in d.items():
        if key in NEVER_SHRUNK or key in keep or (key.endswith("_layers") and key != "num_hidden_layers"
                                            and isinstance(value, int) and value in list_lengths):
            out[key] = value
        elif is_subconfig(value):
            out[key] = shrink_dict(value, keep)
        else:
            for rule in rules:
                if rule.pattern.fullmatch(key) and (isinstance(value, list | tuple) or not rule.lists_only):
                    value = _shrink_value(value, rule.max, rule.pow2)
                    break
            out[key] = value
    _fix_divisibility(out)
    return out


def _fix_divisibility(d: dict[str, Any]) -> None:
    """Keep heads dividing the width and kv-heads dividing heads after shrinking."""
    width = next((d[k] for k in ("hidden_size", "d_model", "n_embd", "embed_dim") if isinstance(d.get(k), int)), None)
    for heads_key in ("num_attention_heads", "n_head", "num_heads"):
        heads = d.get(heads_key)
        if isinstance(width, int) and isinstance(heads, int) and heads > 0 and width % heads:
            while width % heads:
                heads -= 1
            d[heads_key] = heads
        if isinstance(heads, int) and heads > 0:
            kv = d.get("num_key_value_heads")
            if isinstance(kv, int) and kv > 0 and heads % kv:
                d["num_key_value_heads"] = 1
