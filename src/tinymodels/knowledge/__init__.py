"""Data files shipped with the package, loaded once and validated as they load.

Every file of `resources/` is checked against `resources/knowledge.schema.json` when it loads
(unknown keys refused, with the closest known key), and the `overrides*.yaml` files may not
set the same key of a type twice. `python -m tinymodels.knowledge` checks every file (run by
`nox -s lint`).
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Final

import yaml

from tinymodels.errors import KnowledgeError

PACKAGE: Final[str] = "tinymodels.knowledge"
SCHEMA: Final[str] = "knowledge.schema.json"


# libyaml's parser when PyYAML was built with it: the same documents, parsed several times faster
# (loading the knowledge files was the largest cost of a one-type build after the imports).
_SafeLoader: Final[type[yaml.SafeLoader]] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _UniqueKeyLoader(_SafeLoader):
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


@functools.cache
def _validator() -> Any:
    """The Draft 2020-12 validator of `knowledge.schema.json`.

    The schema itself is not checked here: it ships with the package and tests/test_knowledge_schema.py
    checks it (a tenth of a second on every build otherwise)."""
    import jsonschema  # only when a file loads: `tinymodels --help` does not need it

    # (Several parts to `joinpath`: typeshed allows them from Python 3.11; on 3.10 a regular package's
    # `files()` is a `pathlib.Path`, which takes them too.)
    schema = json.loads(resources.files(PACKAGE).joinpath("resources", SCHEMA).read_text(  # type: ignore[call-arg]
        encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _where(path: Iterable[Any]) -> str:
    """`file.yaml: a.b[0].c` for a schema error's path (which starts with the file name)."""
    parts = list(path)
    tail = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in parts[1:]).lstrip(".")
    return f"{parts[0]}: {tail or '(top level)'}" if parts else "(knowledge files)"


def _unknown_keys(error: Any) -> list[str]:
    """One message per key an `additionalProperties: false` refused, with the closest known key."""
    known = list(error.schema.get("properties") or {})
    patterns = [re.compile(p) for p in error.schema.get("patternProperties") or {}]
    unknown = [k for k in error.instance if k not in known and not any(p.search(str(k)) for p in patterns)]
    out = []
    for key in unknown:
        close = difflib.get_close_matches(str(key), known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        out.append(f"{_where(error.absolute_path)}: unknown key {key!r} ({hint})")
    return out


def schema_errors(name: str, data: Any) -> list[str]:
    """Every schema violation of resource file `name` holding `data`, one readable line each."""
    from jsonschema.exceptions import best_match

    messages: list[str] = []
    for error in _validator().iter_errors({name: data}):
        # oneOf/anyOf: report the branch that came closest, not "is not valid under any".
        leaf = best_match([error])
        if leaf.validator == "additionalProperties" and isinstance(leaf.instance, dict):
            messages.extend(_unknown_keys(leaf) if leaf.absolute_path else
                            [f"{name}: not a knowledge file: add its definition to {SCHEMA}"])
        else:
            messages.append(f"{_where(leaf.absolute_path)}: {leaf.message}")
    return sorted(messages)  # jsonschema's own order follows set iteration: keep reruns comparable


def validate_resource(name: str, data: Any) -> dict[str, Any]:
    """`data` (file `name` of `resources/`) if it fits the schema, else a `KnowledgeError` naming
    every problem with its file and entry path."""
    if not isinstance(data, dict):
        raise KnowledgeError(f"{name}: expected a mapping at top level")
    problems = schema_errors(name, data)
    if problems:
        raise KnowledgeError("invalid knowledge data:\n  " + "\n  ".join(problems))
    return data


def load_resource(name: str) -> dict[str, Any]:
    """A YAML file of `resources/`, a mapping at top level, duplicate keys refused, schema-checked."""
    text = resources.files(PACKAGE).joinpath("resources", name).read_text(encoding="utf-8")  # type: ignore[call-arg]  # (see `_validator`)
    return validate_resource(name, load_yaml_text(text) or {})


def resource_names() -> list[str]:
    """The YAML files of `resources/`, sorted."""
    return sorted(p.name for p in resources.files(PACKAGE).joinpath("resources").iterdir() if p.name.endswith(".yaml"))


@dataclass(frozen=True)
class ShrinkRule:
    """Cap integer fields whose name matches `pattern` at `max`."""

    name: str
    max: int
    pattern: re.Pattern[str]
    # Round capped values down to a power of two, so they divide the power-of-two widths.
    pow2: bool = False
    # Only per-layer lists match (the same name as a single int means another thing: OneFormer's
    # pixel-decoder width is an int `conv_dim`, group-normed in groups of 32).
    lists_only: bool = False


@functools.cache
def shrink_rules() -> tuple[ShrinkRule, ...]:
    """The generic shrinking rules of `shrink_rules.yaml`."""
    rules = []
    for raw in load_resource("shrink_rules.yaml")["rules"]:
        if not isinstance(raw.get("max"), int) or not raw.get("keys"):
            raise ValueError(f"shrink_rules.yaml: rule {raw.get('name')!r} needs an int 'max' and 'keys'")
        pattern = re.compile("|".join(f"(?:{k})" for k in raw["keys"]))
        rules.append(ShrinkRule(name=raw["name"], max=raw["max"], pattern=pattern, pow2=bool(raw.get("pow2", False)),
                                lists_only=bool(raw.get("lists_only", False))))
    return tuple(rules)


@functools.cache
def repair_rules() -> dict[str, Any]:
    """The `repairs` section of `shrink_rules.yaml`: data for the consistency repairs (`repair.py`)."""
    return dict(load_resource("shrink_rules.yaml").get("repairs") or {})


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


def merge_overrides(files: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Entries of the (schema-checked) override files, merged per type in file-name order:
    mappings merged, reasons joined. A key (or a mapping's key) that two files both set is
    refused, since either file would silently win over the other."""
    merged: dict[str, dict[str, Any]] = {}
    origin: dict[tuple[str, ...], str] = {}
    for name in sorted(files):
        for model_type, raw in (validate_resource(name, files[name]).get("overrides") or {}).items():
            for key, value in raw.items():
                if key == "reason":
                    continue
                for leaf in ([(model_type, key, k) for k in value] if isinstance(value, dict) else [(model_type, key)]):
                    if leaf in origin:
                        raise KnowledgeError(f"{name}: overrides.{'.'.join(leaf)} is also set by {origin[leaf]}: "
                                             "give each key of a type in one file only")
                    origin[leaf] = name
            into = merged.setdefault(model_type, {})
            for key, value in raw.items():
                if key == "reason" and into.get("reason"):
                    into["reason"] = f"{into['reason']} {value}"
                elif isinstance(value, dict) and isinstance(into.get(key), dict):
                    into[key] = {**into[key], **value}
                else:
                    into[key] = value
    return merged


def _merged_overrides() -> dict[str, dict[str, Any]]:
    """The shipped `overrides*.yaml` files, merged (see `merge_overrides`)."""
    names = [n for n in resource_names() if n.startswith("overrides")]
    return merge_overrides({n: load_resource(n) for n in names})


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


def check_all() -> list[str]:
    """Load every knowledge file as the code does (schema, then cross-file merge): the problems found."""
    problems: list[str] = []
    for name in resource_names():
        try:
            load_resource(name)
        except (KnowledgeError, yaml.YAMLError) as exc:
            problems.append(str(exc))
    if not problems:
        try:
            _merged_overrides()
        except KnowledgeError as exc:
            problems.append(str(exc))
    return problems


def main() -> int:
    """`python -m tinymodels.knowledge`: validate every knowledge file; exit 0 when all are valid."""
    problems = check_all()
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        return KnowledgeError.return_code
    print(f"{len(resource_names())} knowledge files valid against {SCHEMA}")
    return 0

