"""Repairs of sizes a shrunk config ties together: heads, rotary sections, SSM heads, sums,
ratios and products, per-stage widths, groups, experts and pooled image tokens.

Each repair compares with the class defaults to see which tie held there, and restores it.
"""

from __future__ import annotations

import functools
import inspect
import math
import re
from pathlib import Path
from typing import Any, cast

from tinymodels.config.shrink import is_int, rule_pattern
from tinymodels.knowledge import repair_rules

# --- attention heads ----------------------------------------------------------------------


def repair_kv_heads(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Multi-head attention stays multi-head: kv heads equal to heads by default stay equal."""
    heads = rule_pattern("attention heads")
    kv = rule_pattern("key-value heads")
    head_key = next((k for k in ("num_attention_heads", "n_head", "num_heads", "n_heads") if is_int(d.get(k))), None)
    if head_key is None or not is_int(defaults.get(head_key)):
        return
    for k, v in d.items():
        if kv.fullmatch(k) and not heads.fullmatch(k) and is_int(v) and defaults.get(k) == defaults[head_key]:
            d[k] = d[head_key]


# --- rotary embeddings ----------------------------------------------------------------------


def _head_dim(d: dict[str, Any]) -> int | None:
    if is_int(d.get("head_dim")) and d["head_dim"] > 0:
        return int(d["head_dim"])
    width, heads = d.get("hidden_size"), d.get("num_attention_heads")
    if is_int(width) and is_int(heads) and heads > 0:
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
        return bool(source) and "mrope_section" in Path(cast(str, source)).read_text(encoding="utf-8")
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
        if not isinstance(sections, list) or not sections or not all(is_int(s) for s in sections):
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
        if not (is_int(heads) and is_int(width) and heads > 0 and isinstance(expand, int | float)
                and not isinstance(expand, bool) and expand > 0):
            continue
        inner = int(expand * width)
        if rule.get("inner") and is_int(d.get(rule["inner"])):
            d[rule["inner"]] = inner
        while inner % heads:
            heads -= 1
        d[rule["heads"]] = heads
        if rule["head_dim"] in d and (head_dim is None or is_int(head_dim)):
            d[rule["head_dim"]] = inner // heads
        groups = rule.get("groups")
        if groups and is_int(d.get(groups)) and d[groups] > 0 and heads % d[groups]:
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
        # Any, not Optional: the `all(is_int(v) ...)` below rules None out, which mypy cannot follow.
        num: Any = d.get(rule["num"])
        den: Any = d.get(rule["den"])
        dnum: Any = defaults.get(rule["num"])
        dden: Any = defaults.get(rule["den"])
        if not (isinstance(holder, dict) and isinstance(value, float) and isinstance(default, float)
                and all(is_int(v) and v > 0 for v in (num, den, dnum, dden))):
            continue
        if math.isclose(default, dnum / dden) and not math.isclose(value, num / den):
            holder[last] = num / den


def repair_sums(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A field that equalled the sum of others in the defaults (MLA head_dim = nope + rope) still does."""
    for rule in repair_rules().get("sums", []):
        total, parts = rule["total"], rule["parts"]
        if not all(is_int(defaults.get(k)) for k in (total, *parts)) or not all(is_int(d.get(k)) for k in (total, *parts)):
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
        if not (is_int(d.get(total)) and isinstance(values, list | tuple) and values
                and all(is_int(v) for v in values) and isinstance(dvalues, list | tuple)):
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
                and all(is_int(x) and x > 0 for x in (*v, *dv))):
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
        if not (is_int(d.get(width)) and isinstance(d.get(stages), list) and is_int(dw) and is_int(dtotal)
                and isinstance(dstages, list) and dstages and dtotal == dw * 2 ** (len(dstages) - 1)):
            continue
        growth = 2 ** (len(d[stages]) - 1)
        counts = heads if isinstance(heads, list) and all(is_int(h) and h > 0 for h in heads) else []
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
        if (is_int(d.get(stride)) and is_int(d.get(patch)) and is_int(defaults.get(patch))
                and defaults.get(stride) == defaults[patch] * 2 ** (len(dstages) - 1)):
            d[stride] = d[patch] * growth


# --- groups (GroupNorm / grouped convolutions) ---------------------------------------------


def repair_groups(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Group counts must divide the (shrunk) channel widths: cap them at a small power of two."""
    cfg = repair_rules().get("groups", {})
    pattern = re.compile("|".join(f"(?:{k})" for k in cfg.get("keys", [])))
    cap = int(cfg.get("max", 4))
    for k, v in d.items():
        if pattern.fullmatch(k) and is_int(v) and v > cap:
            d[k] = cap


def repair_expert_groups(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Expert groups divide the experts; tokens pick at most as many groups as there are."""
    cfg = repair_rules().get("expert_groups") or {}
    experts_rule = rule_pattern("experts")
    experts = next((v for k, v in d.items() if experts_rule.fullmatch(k) and is_int(v) and v > 0), None)
    if experts is None:
        return
    for g in cfg.get("groups", []):
        groups = d.get(g)
        if is_int(groups) and groups > 0 and (groups > experts or experts % groups):
            d[g] = 1
        groups = d.get(g)
        for t in cfg.get("topk", []):
            if is_int(groups) and is_int(d.get(t)) and d[t] > groups:
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
    if not (is_int(tokens) and tokens > 0 and isinstance(vision, dict)):
        return
    size, patch = vision.get("image_size"), vision.get("patch_size")
    if not (is_int(size) and is_int(patch) and patch > 0 and size >= patch):
        return
    patches = size // patch
    side = math.isqrt(tokens)
    if side * side == tokens and side <= patches and patches % side == 0:
        return
    side = max((s for s in range(1, min(side, patches - 1) + 1) if patches % s == 0), default=1)
    d["mm_tokens_per_image"] = side * side
