"""Tiny configs derived from the installed config classes by shrinking, recursively.

Works on the config's dict form: every nested dict with a `model_type` is a
sub-config and is shrunk with the same rules, then the config class rebuilds the
whole tree, so derived fields are recomputed by transformers itself. After the
generic shrink (`shrink.py`) and the per-type overrides, `repair.py` restores the consistency
rules the shrink broke (per-layer lists, backbone stages, rotary sections, SSM
heads…), and the result is instantiated and validated so errors surface here.
"""

from __future__ import annotations

import copy
from typing import Any

from tinymodels.config.repair import repair_tree
from tinymodels.config.shrink import NEVER_SHRUNK, shrink_dict
from tinymodels.config.walk import is_subconfig, sub_dicts
from tinymodels.knowledge import override_for


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
        sub: Any = subs.get(key)  # a config class, or None (then the `isinstance` below fails)
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
    return next((sub for sub in sub_dicts(d) if sub["model_type"] == model_type), None)


def _add_missing(into: dict[str, Any], source: dict[str, Any]) -> list[str]:
    """Copy the keys of `source` that `into` lacks, also into matching sub-configs; returns them."""
    added = []
    for key, value in source.items():
        if key not in into:
            into[key] = copy.deepcopy(value)
            added.append(key)
        elif is_subconfig(value) and is_subconfig(into[key]):
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
    # (The walk is lazy: an override that sets a nested sub-config is walked into as well.)
    for sub in sub_dicts(tiny):
        override = override_for(str(sub["model_type"]))
        for dotted, value in (override.config if override else {}).items():
            set_path(sub, dotted, copy.deepcopy(value))


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
        if is_subconfig(value) and isinstance(defaults.get(key), dict):
            changed += [f"{key}.{k}" for k in rederive_fields(str(value["model_type"]), value, defaults[key])]
    try:
        cls = config_class(model_type)
    except Exception:  # noqa: BLE001 - a sub-config type without a registered class
        return changed
    for key, value in list(tiny.items()):
        large = isinstance(value, int) and not isinstance(value, bool) and value > 64
        # Plain dicts (not sub-configs) are never shrunk: one the class derives (fastspeech2's
        # `encoder_config` from its `encoder_*` fields) would keep the default sizes.
        derived_dict = isinstance(value, dict) and bool(value) and not is_subconfig(value)
        if (key in NEVER_SHRUNK or not (large or derived_dict) or value != defaults.get(key)
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
