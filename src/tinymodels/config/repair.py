"""Repairs that make a generically shrunk config dict consistent again.

The generic shrink caps each field on its own; many configs tie fields together
(per-layer lists sized by the layer count, backbone stages named after layers,
rotary sections summing to half the head size, SSM heads × head size equal to the
expanded width…). Each repair below handles one such mechanism. They run on the
config dict and on every sub-config, compare with the class defaults (to know the
original pattern), only touch what is inconsistent, and are idempotent.
"""

from __future__ import annotations

import copy
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


def _reference_list(key: str, value: Any, n0: int) -> bool:
    """A per-layer list of layer indices, each layer naming the layer it takes something from
    (`kv_source_layers: [0, 1, 2, 2, 4]`: layer 3 reuses layer 2's keys and values). Every
    entry names a layer that names itself, and several layers do."""
    return (isinstance(value, list) and len(value) == n0 > 2 and "layer" in key
            and all(_is_int(v) and 0 <= v < n0 for v in value)
            and all(value[v] == v for v in value) and sum(v == i for i, v in enumerate(value)) > 1
            and any(v != i for i, v in enumerate(value)))


def _untouched(d: dict[str, Any], key: str, default: Any) -> bool:
    """Whether `d[key]` is still the default, perhaps capped by the generic shrink (no override
    set it): layer-index lists under `.*_layers` are capped to the shrunk depth as numbers."""
    from tinymodels.config.tiny_config import shrink_dict

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
                   if k.endswith("_period") and _is_int(defaults[k]) and _is_int(defaults.get(k[: -len("_period")]
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
            if k != count and v == n0 and _is_int(d.get(k)) and _rule_keys("depth").fullmatch(k):
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
    from tinymodels.config.tiny_config import shrink_dict

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
        from tinymodels.config.discover import config_class

        source = inspect.getsourcefile(config_class(model_type))
        return bool(source) and "mrope_section" in Path(source).read_text(encoding="utf-8")
    except Exception:  # noqa: BLE001 - unknown type, no source, unreadable file: only a hint, nothing to add
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


def _get_path(d: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict):
            return None
        d = d.get(part)  # type: ignore[assignment]
    return d


def repair_ratios(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A float field that equalled `num / den` in the defaults still does after shrinking.

    Configs store derived ratios beside the fields they come from (MLA rotary fraction
    `rope_parameters.partial_rotary_factor = qk_rope_head_dim / head_dim`); the rotary tables
    are sized by the ratio and the attention by the fields, so both must follow the shrink.
    """
    for rule in repair_rules().get("ratios", []):
        *parents, last = rule["value"].split(".")
        holder = _get_path(d, ".".join(parents)) if parents else d
        value, default = _get_path(d, rule["value"]), _get_path(defaults, rule["value"])
        num, den = d.get(rule["num"]), d.get(rule["den"])
        dnum, dden = defaults.get(rule["num"]), defaults.get(rule["den"])
        if not (isinstance(holder, dict) and isinstance(value, float) and isinstance(default, float)
                and all(_is_int(v) and v > 0 for v in (num, den, dnum, dden))):
            continue
        if math.isclose(default, dnum / dden) and not math.isclose(value, num / den):
            holder[last] = num / den


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


# --- growing per-stage widths ----------------------------------------------------------------


def repair_growing_widths(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Per-stage widths that change at every stage keep changing after the cap.

    Hierarchical blocks (hiera) only project and pool the residual when a stage changes the
    width, so the cap's equal widths break them. The default list is scaled so that its
    smallest entry becomes the capped one ([96, 192, 384, 768] -> [32, 64, 128, 256]); lists
    tied to it (a neck's reversed channel list) scale the same way.
    """
    keys = repair_rules().get("growing_widths") or []
    if not keys:
        return
    pattern = re.compile("|".join(f"(?:{k})" for k in keys))
    for k, v in d.items():
        dv = defaults.get(k)
        if not (pattern.fullmatch(k) and isinstance(v, list) and isinstance(dv, list) and len(v) == len(dv) > 1
                and all(_is_int(x) and x > 0 for x in (*v, *dv))):
            continue
        if len(set(dv)) < len(dv) or len(set(v)) == len(v):
            continue  # equal widths by default, or still distinct after the cap
        small, default_small = min(v), min(dv)
        d[k] = [max(1, round(x * small / default_small)) for x in dv]


def repair_doubling_stages(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A width that doubles at every stage starts small enough for the last stage to be tiny.

    Swin-like encoders derive their final width as `width` × 2^(stages − 1): capped at the
    common width, four stages still end 8× wider (a 4.8 MB SwinModel). The defaults show the
    derivation (`total` = `width` × 2^(n − 1)); the width becomes `final` / 2^(n − 1), raised to
    the least value whose every stage width divides by that stage's head count. A `stride`
    that equals the total downsampling by default follows the shrunk patch and stage count.
    """
    for rule in repair_rules().get("doubling_stages") or []:
        width, stages, total, final = rule["width"], rule["stages"], rule["total"], int(rule["final"])
        heads = d.get(rule.get("heads", ""))
        dw, dstages, dtotal = defaults.get(width), defaults.get(stages), defaults.get(total)
        if not (_is_int(d.get(width)) and isinstance(d.get(stages), list) and _is_int(dw) and _is_int(dtotal)
                and isinstance(dstages, list) and dstages and dtotal == dw * 2 ** (len(dstages) - 1)):
            continue
        growth = 2 ** (len(d[stages]) - 1)
        counts = heads if isinstance(heads, list) and all(_is_int(h) and h > 0 for h in heads) else []
        value = max(1, final // growth)
        while any((value * 2 ** i) % h for i, h in enumerate(counts)):
            value += 1
        if value < d[width]:
            d[width] = value
            if total in d:
                d[total] = value * growth
        # The image-reconstruction stride is the total downsampling (patch × 2^(n − 1)) by default:
        # kept so, a masked-image-modeling decoder rebuilds the input size from the last stage.
        stride, patch = rule.get("stride", ""), rule.get("patch", "")
        if (_is_int(d.get(stride)) and _is_int(d.get(patch)) and _is_int(defaults.get(patch))
                and defaults.get(stride) == defaults[patch] * 2 ** (len(dstages) - 1)):
            d[stride] = d[patch] * growth


# --- spatial sizes derived from the image size -------------------------------------------------


def _side(v: Any) -> int | None:
    """The side of an `image_size` value (an int or a [height, width] pair)."""
    if _is_int(v):
        return int(v)
    if isinstance(v, list | tuple) and v and all(_is_int(x) for x in v):
        return int(v[0])
    return None


def repair_image_scaled_sizes(tiny: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Feature-map sizes the config spells out for the default image shrink with the image.

    SAM2-style necks reshape backbone features to `backbone_feature_sizes` ([[256, 256],
    [128, 128], [64, 64]] for a 1024-pixel image): scaled by the tiny / default patch grid
    (image side / patch size), they match the feature maps of the tiny image.
    """
    keys = repair_rules().get("image_scaled") or []
    if not keys:
        return
    pattern = re.compile("|".join(f"(?:{k})" for k in keys))
    pairs = list(_pairs(tiny, defaults))
    # Feature maps follow the patch grid (side / patch), which also shrinks with a ViT's patch.
    ratio = next(((_side(d["image_size"]) / (_side(d.get("patch_size")) or 1))
                  / (_side(dflt["image_size"]) / (_side(dflt.get("patch_size")) or 1)) for d, dflt in pairs
                  if _side(d.get("image_size")) and _side(dflt.get("image_size"))
                  and _side(d["image_size"]) != _side(dflt["image_size"])), None)
    if ratio is None:
        return

    def scale(v: Any) -> Any:
        if isinstance(v, list):
            return [scale(x) for x in v]
        return max(1, round(v * ratio)) if _is_int(v) else v

    for d, dflt in pairs:
        for k, v in d.items():
            if pattern.fullmatch(k) and isinstance(v, list) and v == dflt.get(k):
                d[k] = scale(v)


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


def repair_label_names(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A classifier's labels get names when the config declares a count but no names.

    `PretrainedConfig.num_labels` is a property whose setter names the labels (`LABEL_i`); a
    config class that redeclares `num_labels` as a plain field (PVT) never calls it, so
    `id2label` stays None and every pipeline that names a predicted class fails.
    """
    num = d.get("num_labels")
    if _is_int(num) and num > 0 and d.get("id2label") is None and "id2label" in d:
        d["id2label"] = {i: f"LABEL_{i}" for i in range(num)}
        d["label2id"] = {f"LABEL_{i}": i for i in range(num)}


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


# --- pooled image tokens --------------------------------------------------------------------


def repair_pooled_image_tokens(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Soft tokens per image must be a square pooled from the vision tower's patch grid.

    Gemma3-style projectors average-pool the (image_size / patch_size)² patches to
    `mm_tokens_per_image` tokens with kernel = patches per side / tokens per side: a default
    (256) above the tiny grid gives kernel 0. Keep the largest square whose side divides the
    patches per side and is below it (so the projector still pools).
    """
    tokens, vision = d.get("mm_tokens_per_image"), d.get("vision_config")
    if not (_is_int(tokens) and tokens > 0 and isinstance(vision, dict)):
        return
    size, patch = vision.get("image_size"), vision.get("patch_size")
    if not (_is_int(size) and _is_int(patch) and patch > 0 and size >= patch):
        return
    patches = size // patch
    side = math.isqrt(tokens)
    if side * side == tokens and side <= patches and patches % side == 0:
        return
    side = max((s for s in range(1, min(side, patches - 1) + 1) if patches % s == 0), default=1)
    d["mm_tokens_per_image"] = side * side


# --- media code ranges in the vocabulary -----------------------------------------------------


def lay_out_code_ranges(d: dict[str, Any], start: int | None = None) -> int | None:
    """Lay the token ranges of discrete media codes out back to back; returns their end.

    Some models turn image/audio codes into token ids as `code + <modality>_token_offset`, one
    range per codebook after the text tokens (Apertus 1.5: text | visual | audio, checked by its
    validator). The ranges keep the defaults' order and take the (shrunk) codebook sizes of the
    matching sub-configs (`image_*` ↔ the vision sub-config, `audio_*` ↔ the audio one); they
    start at `start` (the tiny vocabulary size) or else where the first one starts. None when the
    config has no such ranges.
    """
    ranges = []
    for key, offset in d.items():
        if not (key.endswith("_token_offset") and _is_int(offset)):
            continue
        words = ("vision", "visual", "image") if key.startswith(("image", "visual", "vision")) else (key.split("_")[0],)
        sub = next((v for k, v in d.items() if _is_subconfig(v) and any(w in k for w in words)), None)
        size = sub.get("codebook_size") if sub else None
        if _is_int(size) and size > 0:
            ranges.append((offset, key, size))
    if not ranges:
        return None
    ranges.sort()
    pos = ranges[0][0] if start is None else start
    for _, key, size in ranges:
        d[key] = pos
        pos += size
    return pos


def repair_code_ranges(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Media code ranges stay back to back after their codebooks shrink (`lay_out_code_ranges`)."""
    lay_out_code_ranges(d)


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


def _timm_num_features(architecture: str, model_args: dict[str, Any]) -> int | None:
    """The feature width the timm model really produces (built on the meta device), or None."""
    try:
        import timm
        import torch

        with torch.device("meta"):  # (timm consumes nested block specs: build from a copy)
            model = timm.create_model(architecture, pretrained=False, num_classes=0, **copy.deepcopy(model_args))
        return int(model.num_features)
    except Exception:  # noqa: BLE001 - timm missing or args it refuses: the model build reports it
        return None


def repair_timm_models(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A timm-wrapped tower (`architecture` + `model_args`) gets the tiny arguments of its family.

    timm architectures are fixed networks (mobilenetv5_300m: 294M parameters) that no config
    field shrinks; `timm.create_model` takes the architecture's own size arguments through
    `model_args`, so the repair rules list them per architecture family. Block lists given in
    timm's string notation (`block_args`) are decoded. A wrapper that states its tower's width
    (`hidden_size`) then gets the width the tiny tower really has, which some architectures fix
    (MobileNetV5's 2048-wide fusion output).
    """
    arch = d.get("architecture")
    if not (isinstance(arch, str) and "model_args" in d):
        return
    rule = next((r for r in repair_rules().get("timm_models") or [] if re.fullmatch(r["match"], arch)), None)
    if rule is None:
        return
    args = dict(d.get("model_args") or {})
    default_args = defaults.get("model_args") or {}
    for key, value in rule["model_args"].items():
        if key in args and args[key] != default_args.get(key):
            continue  # set by an override
        if key == "block_args" and all(isinstance(s, list) and all(isinstance(b, str) for b in s) for s in value):
            from timm.models._efficientnet_builder import decode_arch_def

            value = decode_arch_def(value)
        args[key] = value
    d["model_args"] = args
    if _is_int(d.get("hidden_size")) and not args.get("features_only"):
        width = _timm_num_features(arch, args)
        if width:
            d["hidden_size"] = width


REPAIRS: tuple[Repair, ...] = (
    repair_timm_backbone,
    repair_timm_models,
    repair_none_fields,
    repair_label_names,
    repair_per_layer_config_values,
    repair_backbone_stages,
    repair_layer_patterns,
    repair_kv_heads,
    repair_sums,
    repair_ratios,
    repair_list_ties,
    repair_rope_sections,
    repair_ssm_heads,
    repair_expert_groups,
    repair_groups,
    repair_pooled_image_tokens,
    repair_code_ranges,
    repair_growing_widths,
    repair_doubling_stages,
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
    repair_image_scaled_sizes(tiny, defaults)
    for d, dflt in _pairs(tiny, defaults):
        for repair in REPAIRS:
            repair(d, dflt)
    return tiny
