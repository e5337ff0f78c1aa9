"""Tiny configs derived from the installed config classes by shrinking, recursively.

Works on the config's dict form: every nested dict with a `model_type` is a
sub-config and is shrunk with the same rules, then the config class rebuilds the
whole tree, so derived fields are recomputed by transformers itself. After the
generic shrink and the per-type overrides, `repair.py` restores the consistency
rules the shrink broke (per-layer lists, backbone stages, rotary sections, SSM
heads…), and the result is instantiated and validated so errors surface here.
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
    return value


def _is_subconfig(value: Any) -> bool:
    return isinstance(value, dict) and "model_type" in value


def shrink_dict(d: dict[str, Any], keep: frozenset[str] = frozenset()) -> dict[str, Any]:
    """Apply the generic shrinking rules to a config dict and all its sub-configs."""
    out: dict[str, Any] = {}
    rules = shrink_rules()
    # A count equal to the length of a list beside it is derived from that list
    # (wav2vec2's num_feat_extract_layers == len(conv_dim)): leave it alone.
    # Only integer lists count, and never for the main depth: per-layer lists (layer_types,
    # per-layer sparsity…) are cut to the shrunk depth by repair.py instead.
    list_lengths = {len(v) for v in d.values() if isinstance(v, list | tuple) and len(v) > 2
                    and all(isinstance(x, int) and not isinstance(x, bool) for x in v)}
    for key, value in d.items():
        if key in _NEVER or key in keep or (key.endswith("_layers") and key != "num_hidden_layers"
                                            and isinstance(value, int) and value in list_lengths):
            out[key] = value
        elif _is_subconfig(value):
            out[key] = shrink_dict(value, keep)
        else:
            for rule in rules:
                if rule.pattern.fullmatch(key):
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


def set_path(d: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `a.b.c` inside nested config dicts (missing levels are created)."""
    *parents, last = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value


def _defaults(model_type: str, override_config: dict[str, Any]) -> dict[str, Any]:
    """The default config as a dict; when the bare defaults fail validation, the override's
    values are passed to the constructor (they say what the defaults get wrong)."""
    from tinymodels.discover import config_class

    cls = config_class(model_type)
    try:
        return cls().to_dict()
    except Exception:
        if not override_config:
            raise
        kwargs: dict[str, Any] = {}
        for dotted, value in override_config.items():
            set_path(kwargs, dotted, value)
        return cls(**kwargs).to_dict()


def tiny_config_dict(model_type: str, check: bool = True) -> dict[str, Any]:
    """The tiny config of `model_type` as a dict (defaults → generic shrink → overrides → repairs).

    With `check`, the config is also instantiated and validated (`config.validate()`), so an
    inconsistent tiny config fails here, at the config stage, with the validator's message.
    """
    from tinymodels.repair import repair_tree

    override = override_for(model_type)
    defaults = _defaults(model_type, override.config if override else {})
    keep = frozenset(override.keep) if override else frozenset()
    tiny = shrink_dict(copy.deepcopy(defaults), keep)
    if override:
        for dotted, value in override.config.items():
            set_path(tiny, dotted, value)
    # Repairs only touch what is inconsistent, so values set by overrides stay unless they conflict.
    repair_tree(tiny, defaults)
    if check:
        check_config(model_type, tiny)
    return tiny


def check_config(model_type: str, d: dict[str, Any]) -> Any:
    """Instantiate and validate the config of a tiny dict; returns the config object."""
    config = config_from_dict(model_type, d)
    if hasattr(config, "validate"):
        config.validate()
    return config


def config_from_dict(model_type: str, d: dict[str, Any]) -> Any:
    """Instantiate the config class of `model_type` from a (tiny) dict."""
    from tinymodels.discover import config_class

    d = {k: v for k, v in d.items() if k not in ("transformers_version", "model_type")}
    return config_class(model_type)(**d)
