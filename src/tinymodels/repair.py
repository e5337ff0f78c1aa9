"""Repairs that make a generically shrunk config dict consistent again.

The generic shrink caps each field on its own; many configs tie fields together
(per-layer lists sized by the layer count, backbone stages named after layers,
rotary sections summing to half the head size, SSM heads × head size equal to the
expanded width…). Each repair below handles one such mechanism. They run on the
config dict and on every sub-config, compare with the class defaults (to know the
original pattern), only touch what is inconsistent, and are idempotent.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tinymodels.knowledge import repair_rules, shrink_rules

Repair = Callable[[dict[str, Any], dict[str, Any]], None]

_STAGE = re.compile(r"stage(\d+)")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_subconfig(value: Any) -> bool:
    return isinstance(value, dict) and "model_type" in value


def _rule_keys(name: str) -> re.Pattern[str]:
    """The key pattern of the shrink rule called `name`."""
    return next(r.pattern for r in shrink_rules() if r.name == name)


def _layer_count_keys(d: dict[str, Any], defaults: dict[str, Any]) -> list[str]:
    """Layer-count fields that the shrink lowered (their default says how long per-layer lists were)."""
    depth = _rule_keys("depth")
    return [k for k, v in d.items() if depth.fullmatch(k) and _is_int(v) and _is_int(defaults.get(k))
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
    return (isinstance(value, list) and 0 < len(value) <= n0 and all(_is_int(v) and 0 <= v < n0 for v in value)
            and len(set(value)) == len(value) and ("layer" in key or "idx" in key or "indices" in key))


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
                     plc: dict[Any, Any] | None, periods: list[str]) -> tuple[Any, ...]:
    """What kind of layer layer `i` is, by every per-layer description the defaults have."""
    sig: list[Any] = [_hashable(defaults[k][i]) for k in kinds]
    sig += [i in defaults[k] for k in indexed]
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
        indexed = [k for k, v in defaults.items() if _index_list(k, v, n0) and d.get(k) == v]
        per_layer = [k for k, v in defaults.items()
                     if k != count and k not in indexed and isinstance(v, list) and len(v) == n0 and n0 > 2
                     and isinstance(d.get(k), list) and len(d[k]) == n0]
        # Lists with a different value at every layer tell no layer kinds apart.
        kinds = [k for k in per_layer if len({_hashable(v) for v in defaults[k]}) < n0]
        plc = defaults.get("per_layer_config") if count == "num_hidden_layers" else None
        plc = plc if isinstance(plc, dict) and plc and isinstance(d.get("per_layer_config"), dict) else None
        periods = [k[: -len("_period")] for k in defaults
                   if k.endswith("_period") and _is_int(defaults[k]) and _is_int(defaults.get(k[: -len("_period")]
                                                                                           + "_offset"))]
        periods = [p for p in periods if defaults[p + "_period"] > 0]
        if not (per_layer or indexed or plc or periods):
            continue

        firsts: dict[tuple[Any, ...], int] = {}
        for i in range(n0):
            firsts.setdefault(_layer_signature(i, defaults, kinds, indexed, plc, periods), i)
        chosen = set(firsts.values()) | {n0 - 1}
        for i in range(n0):
            if len(chosen) >= n:
                break
            chosen.add(i)
        order = sorted(chosen)
        new_pos = {old: new for new, old in enumerate(order)}
        d[count] = len(order)
        # Other layer counts that equalled the depth (all layers shared, all layers MoE…) still do.
        for k, v in defaults.items():
            if k != count and v == n0 and _is_int(d.get(k)) and _rule_keys("depth").fullmatch(k):
                d[k] = len(order)
        for k in per_layer:
            d[k] = [d[k][i] for i in order]
        for k in indexed:
            d[k] = [new_pos[i] for i in defaults[k] if i in new_pos]
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
    from tinymodels.tiny_config import shrink_dict

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


# --- attention heads ----------------------------------------------------------------------


def repair_kv_heads(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Multi-head attention stays multi-head: kv heads equal to heads by default stay equal."""
    heads = _rule_keys("attention heads")
    kv = _rule_keys("key-value heads")
    head_key = next((k for k in ("num_attention_heads", "n_head", "num_heads", "n_heads") if _is_int(d.get(k))), None)
    if head_key is None or not _is_int(defaults.get(head_key)):
        return
    for k, v in d.items():
        if kv.fullmatch(k) and not heads.fullmatch(k) and _is_int(v) and defaults.get(k) == defaults[head_key]:
            d[k] = d[head_key]


# --- rotary embeddings ----------------------------------------------------------------------


def _head_dim(d: dict[str, Any]) -> int | None:
    if _is_int(d.get("head_dim")) and d["head_dim"] > 0:
        return int(d["head_dim"])
    width, heads = d.get("hidden_size"), d.get("num_attention_heads")
    if _is_int(width) and _is_int(heads) and heads > 0:
        return int(width // heads)
    return None


def _split(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainders first)."""
    s = sum(weights) or 1
    raw = [total * w / s for w in weights]
    out = [int(r) for r in raw]
    for i in sorted(range(len(raw)), key=lambda i: out[i] - raw[i])[: total - sum(out)]:
        out[i] += 1
    return out


@functools.cache
def _mentions_mrope(model_type: str) -> bool:
    """Whether the config's module knows `mrope_section` (its model then has a built-in default)."""
    try:
        from tinymodels.discover import config_class

        source = inspect.getsourcefile(config_class(model_type))
        return bool(source) and "mrope_section" in Path(source).read_text(encoding="utf-8")
    except Exception:  # unknown type or no source: nothing to add
        return False


def repair_rope_sections(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Multimodal rotary sections must sum to half the rotary dimension of the shrunk head.

    Models whose config leaves `mrope_section` out use a default sized for the full head
    (qwen2_vl: [16, 24, 24]); such configs get explicit sections in the same 2:3:3 ratio.
    """
    head_dim = _head_dim(d)
    if head_dim is None:
        return
    rope = d.get("rope_parameters")
    if isinstance(rope, dict) and "head_dim" in d and _mentions_mrope(str(d.get("model_type", ""))):
        # Three sections need at least 3 rotary frequency pairs: widen the head when the
        # shrunk head rotates fewer (head_dim may differ from hidden_size // heads).
        factor = rope.get("partial_rotary_factor", d.get("partial_rotary_factor")) or 1.0
        if int(head_dim * factor) // 2 < 3:
            head_dim = int(math.ceil(8 / factor))
            d["head_dim"] = head_dim
    if (isinstance(rope, dict) and "rope_type" in rope and "mrope_section" not in rope
            and "mrope_section" not in d and _mentions_mrope(str(d.get("model_type", "")))):
        factor = rope.get("partial_rotary_factor", d.get("partial_rotary_factor")) or 1.0
        target = int(head_dim * factor) // 2
        if target >= 1:  # (an empty section is fine for torch.split; the default would not fit)
            rope["mrope_section"] = _split(target, [2, 3, 3])
        return
    for holder in (d, d.get("rope_parameters"), d.get("rope_scaling")):
        if not isinstance(holder, dict):
            continue
        sections = holder.get("mrope_section")
        if not isinstance(sections, list) or not sections or not all(_is_int(s) for s in sections):
            continue
        factor = holder.get("partial_rotary_factor", d.get("partial_rotary_factor")) or 1.0
        # The defaults tell whether the sections covered the whole head or only the rotary part.
        d_head = _head_dim(defaults)
        if d_head and sum(sections) * 2 == d_head:
            factor = 1.0
        target = int(head_dim * factor) // 2
        if sum(sections) != target:
            holder["mrope_section"] = _split(target, sections)


# --- state-space models ---------------------------------------------------------------------


def repair_ssm_heads(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """SSM heads × head size must equal expand × hidden size; groups must divide the heads."""
    for rule in repair_rules().get("ssm", []):
        heads, head_dim, expand = d.get(rule["heads"]), d.get(rule["head_dim"]), d.get(rule["expand"])
        width = d.get(rule.get("width", "hidden_size"))
        if not (_is_int(heads) and _is_int(width) and heads > 0 and isinstance(expand, int | float)
                and not isinstance(expand, bool) and expand > 0):
            continue
        inner = int(expand * width)
        if rule.get("inner") and _is_int(d.get(rule["inner"])):
            d[rule["inner"]] = inner
        while inner % heads:
            heads -= 1
        d[rule["heads"]] = heads
        if rule["head_dim"] in d and (head_dim is None or _is_int(head_dim)):
            d[rule["head_dim"]] = inner // heads
        groups = rule.get("groups")
        if groups and _is_int(d.get(groups)) and d[groups] > 0 and heads % d[groups]:
            d[groups] = 1


def repair_sums(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A field that equalled the sum of others in the defaults (MLA head_dim = nope + rope) still does."""
    for rule in repair_rules().get("sums", []):
        total, parts = rule["total"], rule["parts"]
        if not all(_is_int(defaults.get(k)) for k in (total, *parts)) or not all(_is_int(d.get(k)) for k in (total, *parts)):
            continue
        if defaults[total] == sum(defaults[p] for p in parts):
            d[total] = sum(d[p] for p in parts)


def _factor(total: int, like: list[int]) -> list[int]:
    """`len(like)` integer factors of `total` (a power of two works best), balanced as in `like`."""
    n = len(like)
    exp = total.bit_length() - 1
    if total != 1 << exp:  # not a power of two: the whole product in the last factor
        return [1] * (n - 1) + [total]
    logs = [max(math.log2(v), 0.0) if v > 0 else 0.0 for v in like]
    return [1 << e for e in _split(exp, [round(x * 100) or 1 for x in logs])]


def repair_list_ties(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Integer lists that summed / multiplied to a scalar in the defaults still do after shrinking."""
    for rule in repair_rules().get("list_ties", []):
        total, key, op = rule["total"], rule["list"], rule.get("op", "sum")
        values, dvalues = d.get(key), defaults.get(key)
        if not (_is_int(d.get(total)) and isinstance(values, list | tuple) and values
                and all(_is_int(v) for v in values) and isinstance(dvalues, list | tuple)):
            continue
        combine = sum if op == "sum" else math.prod
        if combine(values) == d[total] or combine(dvalues) != defaults.get(total):
            continue
        new = _split(d[total], list(dvalues)) if op == "sum" else _factor(d[total], list(dvalues))
        d[key] = type(values)(new)


# --- groups (GroupNorm / grouped convolutions) ---------------------------------------------


def repair_groups(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Group counts must divide the (shrunk) channel widths: cap them at a small power of two."""
    cfg = repair_rules().get("groups", {})
    pattern = re.compile("|".join(f"(?:{k})" for k in cfg.get("keys", [])))
    cap = int(cfg.get("max", 4))
    for k, v in d.items():
        if pattern.fullmatch(k) and _is_int(v) and v > cap:
            d[k] = cap


# --- None-valued fields ---------------------------------------------------------------------


def repair_none_fields(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Fields the code uses arithmetically but that default to None get a small value.

    `head_dim: None` means "hidden_size // heads" to the configs that derive it, so spelling it
    out is always safe and helps the models that use it directly.
    """
    for k, v in (repair_rules().get("none_defaults") or {}).items():
        if k in d and d[k] is None:
            d[k] = v
    width, heads = d.get("hidden_size"), d.get("num_attention_heads")
    if "head_dim" in d and d["head_dim"] is None and _is_int(width) and _is_int(heads) and heads > 0:
        d["head_dim"] = width // heads
    # `num_key_value_heads: None` means multi-head attention; some models divide by it directly.
    if "num_key_value_heads" in d and d["num_key_value_heads"] is None and _is_int(heads) and heads > 0:
        d["num_key_value_heads"] = heads


def repair_expert_groups(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Expert groups divide the experts; tokens pick at most as many groups as there are."""
    cfg = repair_rules().get("expert_groups") or {}
    experts_rule = _rule_keys("experts")
    experts = next((v for k, v in d.items() if experts_rule.fullmatch(k) and _is_int(v) and v > 0), None)
    if experts is None:
        return
    for g in cfg.get("groups", []):
        groups = d.get(g)
        if _is_int(groups) and groups > 0 and (groups > experts or experts % groups):
            d[g] = 1
        groups = d.get(g)
        for t in cfg.get("topk", []):
            if _is_int(groups) and _is_int(d.get(t)) and d[t] > groups:
                d[t] = groups


# --- timm backbones -------------------------------------------------------------------------


def repair_timm_backbone(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A `timm_backbone` sub-config becomes the tiny transformers backbone of the repair rules."""
    tiny = repair_rules().get("timm_backbone")
    if not tiny:
        return
    for k, v in list(d.items()):
        if _is_subconfig(v) and v.get("model_type") == "timm_backbone":
            indices = v.get("out_indices") or [len(tiny["depths"])]
            n = len(tiny["depths"])
            indices = [i if 0 <= i <= n else n for i in indices]
            d[k] = {**tiny, "out_indices": indices, "out_features": None}
            if d.get("use_timm_backbone"):
                d["use_timm_backbone"] = False
            if isinstance(d.get("backbone"), str):
                d["backbone"] = None


REPAIRS: tuple[Repair, ...] = (
    repair_timm_backbone,
    repair_none_fields,
    repair_per_layer_config_values,
    repair_backbone_stages,
    repair_layer_patterns,
    repair_kv_heads,
    repair_sums,
    repair_list_ties,
    repair_rope_sections,
    repair_ssm_heads,
    repair_expert_groups,
    repair_groups,
)


def _pairs(d: dict[str, Any], defaults: dict[str, Any]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(sub-config, its defaults) for `d` and every nested sub-config, innermost first."""
    for k, v in d.items():
        if _is_subconfig(v):
            dv = defaults.get(k)
            yield from _pairs(v, dv if isinstance(dv, dict) else {})
    yield d, defaults


# Names of fields that hold a width (so may be tied to another config's hidden size).
_DIM_NAME = re.compile(r".*(_dim|_size|_channels|_dims|_sizes)|dim|.*_in|.*_out")
# Never tie these: they are lengths, resolutions or vocabularies, not widths.
_NOT_DIM = re.compile(r".*(position|vocab|image|patch|window|length|sampling|rate|chunk|batch|num_|token|crop|pool|"
                      r"kernel|stride|label|classes|queries|buckets|max_|min_).*")


def repair_tied_widths(tiny: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A width field the rules did not shrink, equal by default to a shrunk width, follows it.

    Configs tie widths across fields and sub-configs under names the rules cannot list
    (`adapter_in_dim`, `codebook_dim`, `vision_config.text_hidden_size`…): their defaults equal
    the width they must match, so equal defaults identify the tie.
    """
    widths = _rule_keys("widths")
    anchors: dict[int, int] = {}
    pairs = list(_pairs(tiny, defaults))
    for d, dflt in pairs:
        for k, v in d.items():
            dv = dflt.get(k)
            if widths.fullmatch(k) and _is_int(v) and _is_int(dv) and dv > 64 and v != dv:
                anchors.setdefault(dv, v)
    for d, dflt in pairs:
        for k, v in d.items():
            if (_is_int(v) and v == dflt.get(k) and v in anchors and _DIM_NAME.fullmatch(k)
                    and not _NOT_DIM.fullmatch(k)):
                d[k] = anchors[v]


def repair_tree(tiny: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Run every repair over `tiny` and its sub-configs (in place); returns `tiny`."""
    repair_tied_widths(tiny, defaults)
    for d, dflt in _pairs(tiny, defaults):
        for repair in REPAIRS:
            repair(d, dflt)
    return tiny
