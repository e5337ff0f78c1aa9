"""The sub-config tree of a config: one walker for config dicts, config objects and config classes.

A composite config nests others (llava's `vision_config`/`text_config`, an omni model's
thinker → audio encoder); shrinking, repairs, alignment and processor sizing each visit that tree.
The tree comes in three forms, each with its own notion of a child:

- a config dict (`to_dict()` output): values that are dicts with a `model_type` (`is_subconfig`);
- a config object: attributes that are config objects (`config_tree`), or only the attributes its
  class declares in `sub_configs` (`declared_sub_configs`);
- a config class: the classes its `sub_configs` declares (`sub_config_classes`).

A tiny config dict is also walked beside its defaults (`with_defaults`: the repairs compare each
sub-config with its own defaults, innermost first).

The orders differ on purpose (callers take the first match, so the order is part of the result):
attributes in instance order breadth first, declared sub-configs in declaration order depth first.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Hashable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


def walk(root: T, children: Callable[[T], Iterable[T]], *, depth_first: bool = False,
         key: Callable[[T], Hashable] | None = None) -> Iterator[T]:
    """Every node under `root` (not `root` itself), breadth first or depth first (pre-order).

    Lazy: a node's children are read after the caller has seen the node, so a caller may edit a
    node (apply an override to a sub-config) before its children are visited. With `key`, nodes
    of an already expanded key are still yielded but not expanded again (a class met twice, or a
    class that holds itself).
    """
    todo: deque[T] = deque(children(root))
    if depth_first:
        todo.reverse()
    expanded: set[Hashable] = set()
    while todo:
        node = todo.pop() if depth_first else todo.popleft()
        yield node
        if key is not None:
            if key(node) in expanded:
                continue
            expanded.add(key(node))
        kids = list(children(node))
        todo.extend(reversed(kids) if depth_first else kids)


def is_subconfig(value: Any) -> bool:
    """Whether a value of a config dict is a sub-config (a dict naming its `model_type`)."""
    return isinstance(value, dict) and "model_type" in value


def is_config(value: Any) -> bool:
    """Whether an attribute of a config object is itself a config object."""
    return hasattr(value, "to_dict") and hasattr(value, "model_type")


def _dict_children(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in d.values() if is_subconfig(v)]


def sub_dicts(d: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every nested sub-config dict of a config dict, at any depth, breadth first (lazy)."""
    return walk(d, _dict_children)


def _pair_children(pair: tuple[dict[str, Any], dict[str, Any]]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    d, defaults = pair
    kids = []
    for key, value in d.items():
        if is_subconfig(value):
            default = defaults.get(key)
            kids.append((value, default if isinstance(default, dict) else {}))
    return kids[::-1]


def with_defaults(d: dict[str, Any], defaults: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(sub-config, its defaults) for `d` and every nested sub-config, innermost first.

    Innermost first (children in key order before their parent, `d` last) is the pre-order walk
    with the children taken right to left, reversed. A missing default sub-config is `{}`.
    """
    return [(d, defaults), *walk((d, defaults), _pair_children, depth_first=True)][::-1]


def _attribute_configs(config: Any) -> list[Any]:
    return [v for v in vars(config).values() if is_config(v)]


def config_tree(config: Any) -> list[Any]:
    """The config object and its sub-configs, breadth first (top-level values win over nested ones)."""
    return [config, *walk(config, _attribute_configs)]


def _declared_configs(config: Any) -> list[Any]:
    subs = (getattr(config, key, None) for key in getattr(config, "sub_configs", None) or {})
    return [sub for sub in subs if sub is not None and hasattr(sub, "to_dict")]


def declared_sub_configs(config: Any) -> list[Any]:
    """The sub-configs a composite config object declares (`text_config`, `decoder`…), depth first."""
    return list(walk(config, _declared_configs, depth_first=True))


def _class_children(node: tuple[str, type]) -> list[tuple[str, type]]:
    subs = getattr(node[1], "sub_configs", None) or {}
    return sorted((k, c) for k, c in subs.items() if isinstance(c, type))


def sub_config_classes(cls: type) -> Iterator[tuple[str, type]]:
    """(key, class) of every sub-config class a config class declares, also nested, breadth first
    by key; a class met again is not expanded again."""
    return walk(("", cls), _class_children, key=lambda node: node[1])
