"""Data files shipped with the package, loaded once and validated as they load."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import yaml

PACKAGE: Final[str] = "tinymodels"


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate mapping keys (plain YAML keeps the last one silently,
    so a second entry for a type would quietly replace the first)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[str] = set()
        for key_node, _ in node.value:
            # Only the mapping's own scalar keys: `<<` merge keys may be overridden on purpose.
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            if key_node.value in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key_node.value!r}: merge the two entries", key_node.start_mark)
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


def load_yaml_text(text: str) -> Any:
    """YAML with duplicate keys refused (see `_UniqueKeyLoader`)."""
    return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass


def load_resource(name: str) -> dict[str, Any]:
    """A YAML file of `resources/`, a mapping at top level, duplicate keys refused."""
    text = resources.files(PACKAGE).joinpath("resources", name).read_text(encoding="utf-8")
    data = load_yaml_text(text) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{name}: expected a mapping at top level")
    return data


@dataclass(frozen=True)
class ShrinkRule:
    """Cap integer fields whose name matches `pattern` at `max`."""

    name: str
    max: int
    pattern: re.Pattern[str]
    # Round capped values down to a power of two, so they divide the power-of-two widths.
    pow2: bool = False


@functools.cache
def shrink_rules() -> tuple[ShrinkRule, ...]:
    """The generic shrinking rules of `shrink_rules.yaml`."""
    rules = []
    for raw in load_resource("shrink_rules.yaml")["rules"]:
        if not isinstance(raw.get("max"), int) or not raw.get("keys"):
            raise ValueError(f"shrink_rules.yaml: rule {raw.get('name')!r} needs an int 'max' and 'keys'")
        pattern = re.compile("|".join(f"(?:{k})" for k in raw["keys"]))
        rules.append(ShrinkRule(name=raw["name"], max=raw["max"], pattern=pattern, pow2=bool(raw.get("pow2", False))))
    return tuple(rules)


@functools.cache
def repair_rules() -> dict[str, Any]:
    """The `repairs` section of `shrink_rules.yaml`: data for the consistency repairs (`repair.py`)."""
    return dict(load_resource("shrink_rules.yaml").get("repairs") or {})


_OVERRIDE_FIELDS: Final = {"reason", "config", "keep", "skip", "skip_architectures", "image_size", "tokenizer",
                           "inputs", "special_tokens", "processor", "skip_levels"}


@dataclass(frozen=True)
class Override:
    """Per-model-type knowledge from `overrides.yaml`."""

    reason: str
    config: dict[str, Any] = field(default_factory=dict)
    keep: tuple[str, ...] = ()
    skip: bool = False
    skip_architectures: dict[str, str] = field(default_factory=dict)
    image_size: int | None = None
    tokenizer: str | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    special_tokens: dict[str, str] = field(default_factory=dict)
    processor: dict[str, Any] = field(default_factory=dict)
    # Validation levels that cannot pass for an upstream reason: `train`, `chat`, `pipeline` or
    # `pipeline/<task>` -> reason (reported as skipped, with the reason).
    skip_levels: dict[str, str] = field(default_factory=dict)


def _merged_overrides() -> dict[str, dict[str, Any]]:
    """Entries of every `overrides*.yaml`, merged per type (mappings merged, reasons joined)."""
    merged: dict[str, dict[str, Any]] = {}
    names = sorted(p.name for p in resources.files(PACKAGE).joinpath("resources").iterdir()
                   if p.name.startswith("overrides") and p.name.endswith(".yaml"))
    for name in names:
        for model_type, raw in (load_resource(name).get("overrides") or {}).items():
            unknown = set(raw) - _OVERRIDE_FIELDS
            if unknown:
                raise ValueError(f"{name}: {model_type}: unknown field(s) {sorted(unknown)}")
            if not str(raw.get("reason", "")).strip():
                raise ValueError(f"{name}: {model_type}: every entry needs a 'reason'")
            into = merged.setdefault(model_type, {})
            for key, value in raw.items():
                if key == "reason" and into.get("reason"):
                    into["reason"] = f"{into['reason']} {value}"
                elif isinstance(value, dict) and isinstance(into.get(key), dict):
                    into[key] = {**into[key], **value}
                else:
                    into[key] = value
    return merged


@functools.cache
def overrides() -> dict[str, Override]:
    """Per-type overrides, validated: every entry needs a reason and known fields only."""
    out: dict[str, Override] = {}
    for model_type, raw in _merged_overrides().items():
        out[model_type] = Override(
            reason=" ".join(str(raw["reason"]).split()),
            config=dict(raw.get("config") or {}),
            keep=tuple(raw.get("keep") or ()),
            skip=bool(raw.get("skip", False)),
            skip_architectures=dict(raw.get("skip_architectures") or {}),
            image_size=raw.get("image_size"),
            tokenizer=raw.get("tokenizer"),
            inputs=dict(raw.get("inputs") or {}),
            special_tokens=dict(raw.get("special_tokens") or {}),
            processor=dict(raw.get("processor") or {}),
            skip_levels={k: " ".join(str(v).split()) for k, v in (raw.get("skip_levels") or {}).items()},
        )
    return out


def override_for(model_type: str) -> Override | None:
    """The override entry of `model_type`, if any."""
    return overrides().get(model_type)
