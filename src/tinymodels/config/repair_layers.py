"""Repairs of a shrunk config's layers: backbone stages and per-layer patterns.

When the shrink lowers a layer count, everything described per layer (stage names, per-layer
lists, layer-index lists, `per_layer_config`, period/offset patterns) must describe the layers
that are left; the defaults tell which layers were of which kind.
"""

from __future__ import annotations

import re
from typing import Any

from tinymodels.config.repair_sizes import repair_kv_heads, repair_sums
from tinymodels.config.shrink import is_int, rule_pattern, shrink_dict

_STAGE = re.compile(r"stage(\d+)")


def _layer_count_keys(d: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Layer-count fields that the shrink lowered (their default says how long per-layer lists were)."""
    depth = rule_pattern("depth")
    return [k for k, v in d.items() if depth.fullmatch(k) and is_int(v) and is_int(defaults.get(k))
            and 0 < v < defaults[k]]


# --- backbones -------------------------------------------------------------------------------


def repair_backbone_stages(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """`out_features`/`out_indices` must name existing stages.

    Layer-based backbones (ViT-like: one stage per layer) lose stages when layers are
    shrunk: keep as many layers as there were requested outputs and point the outputs at
    the last stages, the way the defaults point at the last layers.
    """
    names = defaults.get("stage_names")
    feats = defaults.get("out_features")
    if not isinstance(names, list) or not isinstance(feats, list) or not feats:
        return
    if not all(n == "stem" or _STAGE.fullmatch(str(n)) for n in names):
        return
    n_default = len(names) - 1
    count = next((k for k in _layer_count_keys(d, defaults) if defaults[k] == n_default), None)
    if count is None:
        return
    current = d.get("out_features")
    if isinstance(current, list) and current and all(
            f == "stem" or (_STAGE.fullmatch(str(f)) and int(str(f)[5:]) <= d[count]) for f in current):
        # Already valid for the shrunk depth (e.g. set by an override): only the names follow.
        d["stage_names"] = ["stem"] + [f"stage{i}" for i in range(1, d[count] + 1)]
        return
    staged = [f for f in feats if f != "stem"]
    n = max(d[count], len(staged))
    d[count] = n
    new = [f"stage{i}" for i in range(n - len(staged) + 1, n + 1)]
    if "stem" in feats:
        new.insert(0, "stem")
    d["stage_names"] = ["stem"] + [f"stage{i}" for i in range(1, n + 1)]
    d["out_features"] = new
    d["out_indices"] = [0 if f == "stem" else int(f[5:]) for f in new]


# --- per-layer patterns --------------------------------------------------------------------


def _hashable(v: Any) -> Any:
    return v if isinstance(v, str | int | float | bool | type(None)) else repr(v)


def _index_list(key: str, value: Any, n0: int) -> bool:
    """A list of layer indices (e.g. `attn_layer_indices: [4, 12, 20]`)."""
    return (isinstance(value, list) and 0 < len(value) <= n0 and all(is_int(v) and 0 <= v < n0 for v in value)
            and len(set(value)) == len(value) and ("layer" in key or "idx" in key or "indices" in key))


def _reference_list(key: str, value: Any, n0: int) -> bool:
    """A per-layer list of layer indices, each layer naming the layer it takes something from
    (`kv_source_layers: [0, 1, 2, 2, 4]`: layer 3 reuses layer 2's keys and values). Every
    entry names a layer that names itself, and several layers do."""
    return (isinstance(value, list) and len(value) == n0 > 2 and "layer" in key
            and all(is_int(v) and 0 <= v < n0 for v in value)
            and all(value[v] == v for v in value) and sum(v == i for i, v in enumerate(value)) > 1
            and any(v != i for i, v in enumerate(value)))


def _untouched(d: dict[str, Any], key: str, default: Any) -> bool:
    """Whether `d[key]` is still the default, perhaps capped by the generic shrink (no override
    set it): layer-index lists under `.*_layers` are capped to the shrunk depth as numbers."""
    return d.get(key) == default or d.get(key) == shrink_dict({key: default}).get(key)


def _reference_kind(i: int, refs: list[int]) -> str:
    """A layer's role in a reference list: it reuses another's, is reused, or neither."""
    return "reuse" if refs[i] != i else "store" if i in refs[:i] + refs[i + 1:] else "own"


def _fit_period(members: list[bool]) -> tuple[int, int]:
    """(period, offset) with `i % period == offset` ⇔ members[i], or the closest one."""
    best, best_err = (len(members) + 1, 0), len(members) + 1
    for period in range(1, len(members) + 2):
        for offset in range(period):
            err = sum((i % period == offset) != m for i, m in enumerate(members))
            if err < best_err:
                best, best_err = (period, offset), err
    return best


def _layer_signature(i: int, defaults: dict[str, Any], kinds: list[str], indexed: list[str],
                     plc: dict[Any, Any] | None, periods: list[str], references: list[str]) -> tuple[Any, ...]:
    """What kind of layer layer `i` is, by every per-layer description the defaults have."""
    sig: list[Any] = [_hashable(defaults[k][i]) for k in kinds]
    sig += [i in defaults[k] for k in indexed]
    sig += [_reference_kind(i, defaults[k]) for k in references]
    if plc is not None:
        sig.append(_hashable(plc.get(i, plc.get(str(i), plc.get(f"{i:02d}")))))
    sig += [i % defaults[p + "_period"] == defaults[p + "_offset"] for p in periods]
    return tuple(sig)


def repair_layer_patterns(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Per-layer lists, layer-index lists, `per_layer_config` and period/offset patterns.

    When the layer count is shrunk, keep a representative subset of layers instead of the
    first ones: the first layer of every distinct kind (attention / mamba / moe / sliding…)
    plus the last layer (models often require a particular last layer), filled up from the
    start. Hybrid models therefore keep at least one layer of each kind.
    """
    for count in _layer_count_keys(d, defaults):
        n0, n = defaults[count], d[count]
        indexed = [k for k, v in defaults.items() if _index_list(k, v, n0) and _untouched(d, k, v)]
        references = [k for k, v in defaults.items()
                      if k != count and _reference_list(k, v, n0) and _untouched(d, k, v)]
        per_layer = [k for k, v in defaults.items()
                     if k != count and k not in indexed and k not in references and isinstance(v, list)
                     and len(v) == n0 and n0 > 2 and isinstance(d.get(k), list) and len(d[k]) == n0]
        # Lists with a different value at every layer tell no layer kinds apart.
        kinds = [k for k in per_layer if len({_hashable(v) for v in defaults[k]}) < n0]
        plc = defaults.get("per_layer_config") if count == "num_hidden_layers" else None
        plc = plc if isinstance(plc, dict) and plc and isinstance(d.get("per_layer_config"), dict) else None
        periods = [k[: -len("_period")] for k in defaults
                   if k.endswith("_period") and is_int(defaults[k]) and is_int(defaults.get(k[: -len("_period")]
                                                                                           + "_offset"))]
        periods = [p for p in periods if defaults[p + "_period"] > 0]
        if not (per_layer or indexed or plc or periods or references):
            continue

        firsts: dict[tuple[Any, ...], int] = {}
        for i in range(n0):
            firsts.setdefault(_layer_signature(i, defaults, kinds, indexed, plc, periods, references), i)
        chosen = set(firsts.values()) | {n0 - 1}
        for i in range(n0):
            if len(chosen) >= n:
                break
            chosen.add(i)
        # A kept layer that takes something from another keeps that layer too.
        chosen |= {defaults[k][i] for k in references for i in chosen}
        order = sorted(chosen)
        new_pos = {old: new for new, old in enumerate(order)}
        d[count] = len(order)
        # Other layer counts that equalled the depth (all layers shared, all layers MoE…) still do.
        for k, v in defaults.items():
            if k != count and v == n0 and is_int(d.get(k)) and rule_pattern("depth").fullmatch(k):
                d[k] = len(order)
        for k in per_layer:
            d[k] = [d[k][i] for i in order]
        for k in indexed:
            d[k] = [new_pos[i] for i in defaults[k] if i in new_pos]
        for k in references:
            d[k] = [new_pos[defaults[k][i]] for i in order]
        if plc is not None:
            out = {}
            for key, value in d["per_layer_config"].items():
                old = int(key)
                if old in new_pos:
                    new_key = new_pos[old]
                    out[str(new_key).zfill(len(key)) if isinstance(key, str) else new_key] = value
            d["per_layer_config"] = out
        for p in periods:
            members = [i % defaults[p + "_period"] == defaults[p + "_offset"] for i in order]
            d[p + "_period"], d[p + "_offset"] = _fit_period(members)


def repair_per_layer_config_values(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Per-layer overrides (`per_layer_config`) are shrunk with the same rules as the config."""
    plc = d.get("per_layer_config")
    if not isinstance(plc, dict):
        return
    default_plc = defaults.get("per_layer_config") or {}
    for key, value in list(plc.items()):
        if isinstance(value, dict):
            plc[key] = shrink_dict(value)
            entry_defaults = default_plc.get(key) if isinstance(default_plc, dict) else None
            # A layer's overrides fall back on the config's own fields.
            merged_defaults = {**defaults, **(entry_defaults or {})}
            before = {**d, **plc[key]}
            merged = dict(before)
            repair_kv_heads(merged, merged_defaults)
            repair_sums(merged, merged_defaults)
            plc[key].update({k: v for k, v in merged.items() if v != before[k]})
