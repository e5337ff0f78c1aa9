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
    if isinstance(value, list | tuple) and value:
        # Per-block specs mixing flags and nested strides ([kernel, in, out, [2, 1], use_se]):
        # cap the integers (and nested lists), leave flags, ratios and names alone.
        return type(value)(_shrink_value(v, cap, pow2) if isinstance(v, int | list | tuple) else v
                           for v in value)
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
    from tinymodels.config.discover import config_class

    cls = config_class(model_type)
    try:
        return cls().to_dict()
    except Exception:  # whatever a config's own validation raises: retried with the override, else re-raised
        if not override_config:
            raise
        kwargs: dict[str, Any] = {}
        for dotted, value in override_config.items():
            set_path(kwargs, dotted, value)
        return cls(**kwargs).to_dict()


def _enable_subconfigs(model_type: str, defaults: dict[str, Any], override_config: dict[str, Any]) -> set[str]:
    """Sub-configs the default config leaves None (Gemma 4's vision_config) that an override
    switches on with an empty mapping (`vision_config: {}`): they get their class's defaults
    here, before shrinking, so the tiny config holds a shrunk tower. Returns those keys."""
    from transformers import AutoConfig

    from tinymodels.config.discover import config_class

    cls = config_class(model_type)
    subs = getattr(cls, "sub_configs", None) or {}
    # An `AutoConfig` sub-config declares its default model type in its spec (EmbeddingGemma 2's
    # vision_config: gemma4_vision).
    specs = getattr(cls, "sub_configs_defaults", None) or {}
    enabled: set[str] = set()
    for key, value in override_config.items():
        if value != {} or defaults.get(key) is not None:
            continue
        sub = subs.get(key)
        declared = getattr(specs.get(key), "model_type", None)
        if isinstance(getattr(sub, "model_type", None), str) and sub.model_type:
            defaults[key] = sub().to_dict()
        elif isinstance(declared, str) and declared:
            defaults[key] = AutoConfig.for_model(declared).to_dict()
        else:
            continue
        enabled.add(key)
    return enabled


def _find_subconfig(d: dict[str, Any], model_type: str) -> dict[str, Any] | None:
    """The first nested sub-config dict of `model_type` in `d` (breadth first)."""
    todo = [d]
    while todo:
        for value in todo.pop(0).values():
            if _is_subconfig(value):
                if value["model_type"] == model_type:
                    return value
                todo.append(value)
    return None


def _add_missing(into: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """Copy the keys of `source` that `into` lacks, also into matching sub-configs; returns them."""
    added = []
    for key, value in source.items():
        if key not in into:
            into[key] = copy.deepcopy(value)
            added.append(key)
        elif _is_subconfig(value) and _is_subconfig(into[key]):
            added += [f"{key}.{k}" for k in _add_missing(into[key], value)]
    return added


def add_owner_fields(model_type: str, defaults: dict[str, Any]) -> list[str]:
    """Fields the owner config pushes into this sub-config type, added to its defaults.

    A composite's `__post_init__` sets fields on its sub-configs that their own class does not
    declare (pix2struct: `text_config.initializer_range`, t5gemma2: `encoder.text_config.dropout_rate`),
    and the sub-model's code reads them; built alone, the sub-config lacks them. Taking them from
    the owner's default config, where the sub-config sits, makes the standalone config complete.
    Only missing fields are added. Returns their (dotted) names.
    """
    from tinymodels.config.discover import config_class, owner_model_type

    try:
        owner = owner_model_type(model_type)
        sub = _find_subconfig(config_class(owner)().to_dict(), model_type) if owner else None
    except Exception:  # noqa: BLE001 - an owner whose defaults do not build has nothing to add
        return []
    return _add_missing(defaults, sub) if sub else []


def apply_nested_overrides(tiny: dict[str, Any]) -> None:
    """Sub-configs get the `config` overrides of their own model type.

    What an override knows about a type (DAC's base width, say) holds wherever that type is
    embedded (pe_audio's `dac_config`); the composite's own override is applied after, on top.
    """
    todo = [v for v in tiny.values() if _is_subconfig(v)]
    while todo:
        sub = todo.pop(0)
        override = override_for(str(sub["model_type"]))
        for dotted, value in (override.config if override else {}).items():
            set_path(sub, dotted, copy.deepcopy(value))
        todo.extend(v for v in sub.values() if _is_subconfig(v))


def rederive_fields(model_type: str, tiny: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Large fields the config class derives from others are derived again from the tiny values.

    `to_dict()` writes derived fields out (dots3_note's `conv_output_size` = downsample width ×
    mel bins / 8), and passing the dict back pins them at their default. A field still at its
    large default whose value changes when the class is built without it is such a field: it
    takes the value the class derives. Returns the names of the fields changed.
    """
    from tinymodels.config.discover import config_class

    changed = []
    for key, value in tiny.items():
        if _is_subconfig(value) and isinstance(defaults.get(key), dict):
            changed += [f"{key}.{k}" for k in rederive_fields(str(value["model_type"]), value, defaults[key])]
    try:
        cls = config_class(model_type)
    except Exception:  # noqa: BLE001 - a sub-config type without a registered class
        return changed
    for key, value in list(tiny.items()):
        large = isinstance(value, int) and not isinstance(value, bool) and value > 64
        # Plain dicts (not sub-configs) are never shrunk: one the class derives (fastspeech2's
        # `encoder_config` from its `encoder_*` fields) would keep the default sizes.
        derived_dict = isinstance(value, dict) and bool(value) and not _is_subconfig(value)
        if (key in _NEVER or not (large or derived_dict) or value != defaults.get(key)
                or key.endswith(("_id", "_index", "_ids")) or key.startswith("rope")):
            continue
        rest = {k: v for k, v in tiny.items() if k not in (key, "transformers_version", "model_type")}
        try:
            again = getattr(cls(**rest), key, None)
        except Exception:  # noqa: BLE001 - the field is required: nothing to derive
            continue
        if type(again) is type(value) and again != value and _only_smaller(value, again):
            tiny[key] = again
            changed.append(key)
    return changed


def _only_smaller(old: Any, new: Any) -> bool:
    """Whether `new` differs from `old` only by positive integers that got smaller (a size
    derived again from shrunk fields, not a default the class fills in differently)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_only_smaller(old[k], new[k]) for k in old)
    if old == new:
        return True
    return (isinstance(old, int) and isinstance(new, int) and not isinstance(old, bool)
            and not isinstance(new, bool) and 0 < new < old)


def tiny_config_dict(model_type: str, check: bool = True) -> dict[str, Any]:
    """The tiny config of `model_type` as a dict (defaults → generic shrink → overrides → repairs).

    With `check`, the config is also instantiated and validated (`config.validate()`), so an
    inconsistent tiny config fails here, at the config stage, with the validator's message.
    """
    from tinymodels.config.repair import repair_tree

    override = override_for(model_type)
    defaults = _defaults(model_type, override.config if override else {})
    enabled = _enable_subconfigs(model_type, defaults, override.config if override else {})
    add_owner_fields(model_type, defaults)
    keep = frozenset(override.keep) if override else frozenset()
    tiny = shrink_dict(copy.deepcopy(defaults), keep)
    apply_nested_overrides(tiny)
    if override:
        for dotted, value in override.config.items():
            if dotted not in enabled:
                set_path(tiny, dotted, value)
    # Repairs only touch what is inconsistent, so values set by overrides stay unless they conflict.
    repair_tree(tiny, defaults)
    rederive_fields(model_type, tiny, defaults)
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
    from tinymodels.config.discover import config_class

    d = {k: v for k, v in d.items() if k not in ("transformers_version", "model_type")}
    return config_class(model_type)(**d)
