"""Repairs that make a generically shrunk config dict consistent again.

The generic shrink caps each field on its own; many configs tie fields together
(per-layer lists sized by the layer count, backbone stages named after layers,
rotary sections summing to half the head size, SSM heads × head size equal to the
expanded width…). Each repair handles one such mechanism. They run on the
config dict and on every sub-config, compare with the class defaults (to know the
original pattern), only touch what is inconsistent, and are idempotent.

This module is the registry (`REPAIRS`, in the order they run) and the driver
(`repair_tree`), with the repairs that look across the whole tree (tied widths,
image-scaled sizes); the per-config repairs live in `repair_layers.py`,
`repair_sizes.py` and `repair_fields.py`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, cast

from tinymodels.config.repair_fields import (
    repair_code_ranges,
    repair_label_names,
    repair_none_fields,
    repair_timm_backbone,
    repair_timm_models,
)
from tinymodels.config.repair_layers import (
    repair_backbone_stages,
    repair_layer_patterns,
    repair_per_layer_config_values,
)
from tinymodels.config.repair_sizes import (
    repair_doubling_stages,
    repair_expert_groups,
    repair_groups,
    repair_growing_widths,
    repair_kv_heads,
    repair_list_ties,
    repair_pooled_image_tokens,
    repair_ratios,
    repair_rope_sections,
    repair_ssm_heads,
    repair_sums,
)
from tinymodels.config.shrink import is_int, rule_pattern
from tinymodels.config.walk import with_defaults
from tinymodels.knowledge import repair_rules

Repair = Callable[[dict[str, Any], dict[str, Any]], None]


# --- spatial sizes derived from the image size -------------------------------------------------


def _side(v: Any) -> int | None:
    """The side of an `image_size` value (an int or a [height, width] pair)."""
    if is_int(v):
        return int(v)
    if isinstance(v, list | tuple) and v and all(is_int(x) for x in v):
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
    pairs = list(with_defaults(tiny, defaults))
    # Feature maps follow the patch grid (side / patch), which also shrinks with a ViT's patch.
    # (`_side` is not None there: the condition below checked both image sizes.)
    ratio = next(((cast(int, _side(d["image_size"])) / (_side(d.get("patch_size")) or 1))
                  / (cast(int, _side(dflt["image_size"])) / (_side(dflt.get("patch_size")) or 1)) for d, dflt in pairs
                  if _side(d.get("image_size")) and _side(dflt.get("image_size"))
                  and _side(d["image_size"]) != _side(dflt["image_size"])), None)
    if ratio is None:
        return

    def scale(v: Any) -> Any:
        if isinstance(v, list):
            return [scale(x) for x in v]
        return max(1, round(v * ratio)) if is_int(v) else v

    for d, dflt in pairs:
        for k, v in d.items():
            if pattern.fullmatch(k) and isinstance(v, list) and v == dflt.get(k):
                d[k] = scale(v)


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
    widths = rule_pattern("widths")
    anchors: dict[int, int] = {}
    pairs = list(with_defaults(tiny, defaults))
    for d, dflt in pairs:
        for k, v in d.items():
            dv = dflt.get(k)
            if widths.fullmatch(k) and is_int(v) and is_int(dv) and dv > 64 and v != dv:
                anchors.setdefault(dv, v)
    for d, dflt in pairs:
        for k, v in d.items():
            if (is_int(v) and v == dflt.get(k) and v in anchors and _DIM_NAME.fullmatch(k)
                    and not _NOT_DIM.fullmatch(k)):
                d[k] = anchors[v]


def repair_tree(tiny: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Run every repair over `tiny` and its sub-configs (in place); returns `tiny`."""
    repair_tied_widths(tiny, defaults)
    repair_image_scaled_sizes(tiny, defaults)
    for d, dflt in with_defaults(tiny, defaults):
        for repair in REPAIRS:
            repair(d, dflt)
    return tiny
