"""Repairs of single fields and swapped-in towers: None-valued sizes, label names, media code
ranges in the vocabulary, timm backbones and timm-wrapped towers.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from tinymodels.config.shrink import is_int
from tinymodels.config.walk import is_subconfig
from tinymodels.knowledge import repair_rules

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
    if "head_dim" in d and d["head_dim"] is None and is_int(width) and is_int(heads) and heads > 0:
        d["head_dim"] = width // heads
    # `num_key_value_heads: None` means multi-head attention; some models divide by it directly.
    if "num_key_value_heads" in d and d["num_key_value_heads"] is None and is_int(heads) and heads > 0:
        d["num_key_value_heads"] = heads


def repair_label_names(d: dict[str, Any], defaults: dict[str, Any]) -> None:
    """A classifier's labels get names when the config declares a count but no names.

    `PretrainedConfig.num_labels` is a property whose setter names the labels (`LABEL_i`); a
    config class that redeclares `num_labels` as a plain field (PVT) never calls it, so
    `id2label` stays None and every pipeline that names a predicted class fails.
    """
    num = d.get("num_labels")
    if is_int(num) and num > 0 and d.get("id2label") is None and "id2label" in d:
        d["id2label"] = {i: f"LABEL_{i}" for i in range(num)}
        d["label2id"] = {f"LABEL_{i}": i for i in range(num)}


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
        if not (key.endswith("_token_offset") and is_int(offset)):
            continue
        words = ("vision", "visual", "image") if key.startswith(("image", "visual", "vision")) else (key.split("_")[0],)
        sub = next((v for k, v in d.items() if is_subconfig(v) and any(w in k for w in words)), None)
        size = sub.get("codebook_size") if sub else None
        if is_int(size) and size > 0:
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
        if is_subconfig(v) and v.get("model_type") == "timm_backbone":
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
    if is_int(d.get("hidden_size")) and not args.get("features_only"):
        width = _timm_num_features(arch, args)
        if width:
            d["hidden_size"] = width
