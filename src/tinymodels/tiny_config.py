"""Tiny configs derived from the installed config classes by shrinking, recursively.

Works on the config's dict form: every nested dict with a `model_type` is a
sub-config and is shrunk with the same rules, then the config class rebuilds the
whole tree, so derived fields are recomputed by transformers itself.
"""

from __future__ import annotations

import copy
from typing import Any

from tinymodels.knowledge import override_for, shrink_rules

# Fields that look like widths or counts but must never be touched.
_NEVER: frozenset[str] = frozenset({
    "vocab_size", "num_labels", "id2label", "label2id", "transformers_version", "architectures",
    "torch_dtype", "dtype",
})


def _shrink_value(value: Any, cap: int) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(value, cap) if value > 0 else value
    if isinstance(value, list | tuple) and value and all(isinstance(v, int) and not isinstance(v, bool)
                                                         for v in value):
        return type(value)(min(v, cap) if v > 0 else v for v in value)
    return value


def _is_subconfig(value: Any) -> bool:
    return isinstance(value, dict) and "model_type" in value


def shrink_dict(d: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Apply the generic shrinking rules to a config dict and all its sub-configs."""
    out: dict[str, Any] = {}
    rules = shrink_rules()
    # A count equal to the length of a list beside it is derived from that list
    # (wav2vec2's num_feat_extract_layers == len(conv_dim)): leave it alone.
    list_lengths = {len(v) for v in d.values() if isinstance(v, list | tuple) and len(v) > 2}
    for key, value in d.items():
        if key in _NEVER or key in keep or (key.endswith("_layers") and value in list_lengths):
            out[key] = value
        elif _is_subconfig(value):
            out[key] = shrink_dict(value, keep)
        else:
            for rule in rules:
                if rule.pattern.fullmatch(key):
                    value = _shrink_value(value, rule.max)
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


def set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` inside nested config dicts (missing levels are created)."""
    *parents, last = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value


def tiny_config_dict(model_type: str) -> dict[str, Any]:
    """The tiny config of `model_type` as a dict (defaults → generic shrink → overrides)."""
    from tinymodels.discover import config_class

    defaults = config_class(model_type)().to_dict()
    override = override_for(model_type)
    keep = frozenset(override.keep) if override else frozenset()
    tiny = shrink_dict(copy.deepcopy(defaults), keep)
    if override:
        for dotted, value in override.config.items():
            set_path(tiny, dotted, value)
    return tiny


def config_from_dict(model_type: str, d: dict[str, Any]) -> Any:
    """Instantiate the config class of `model_type` from a (tiny) dict."""
    from tinymodels.discover import config_class

    d = {k: v for k, v in d.items() if k not in ("transformers_version", "model_type")}
    return config_class(model_type)(**d)
