"""Image and video processors built locally, sized to the tiny config.

Every processor starts from its class defaults (keeping normalisation and other settings); only
its sizes (pixel sizes, pixel areas, tiles, working resolutions) follow the tiny image, and the
settings the model config also defines (patch and merge sizes, tokens per image) follow the
config. Whole processors (`ProcessorMixin`) are assembled in `processors.py`.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

from tinymodels.config.walk import config_tree

DEFAULT_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 64


def _size_items(size: Any) -> dict[str, Any]:
    """A size dict, or transformers' `SizeDict` dataclass (5.25 on), as a plain dict; {} otherwise."""
    if dataclasses.is_dataclass(size) and not isinstance(size, type):
        return dataclasses.asdict(size)
    return dict(size) if isinstance(size, dict) else {}


def _resized(size: Any, target: int) -> dict[str, int] | None:
    """Replace every set dimension of a size dict/SizeDict by `target`."""
    items = {k: v for k, v in _size_items(size).items() if v is not None}
    if not items:
        return None
    if "shortest_edge" in items and "longest_edge" in items:
        return {"shortest_edge": target, "longest_edge": target}
    keep = {k: target for k in items if k in ("height", "width", "shortest_edge", "longest_edge", "max_height", "max_width")}
    return keep or None


def _find_image_size(config: Any) -> int:
    for cfg in (config, getattr(config, "vision_config", None)):
        size = getattr(cfg, "image_size", None) if cfg is not None else None
        if isinstance(size, int):
            return size
        if isinstance(size, list | tuple) and size:
            return int(size[0])
    return DEFAULT_IMAGE_SIZE


# Image/video processor settings the model config decides (besides the image size), under names
# only image processors use; `config_value` adds the names every processor shares (CONFIG_ALIASES).
_IMAGE_CONFIG_ALIASES: dict[str, tuple[str, ...]] = {
    "merge_size": ("spatial_merge_size",),
    # The vision encoder's patch size, as processors that also know a merged "token" size call it.
    "encoder_patch_size": ("patch_size",),
    "vision_patch_size": ("patch_size",),  # Step3p7: image tokens = (size // (this * stride))²
    "temporal_patch_size": ("patch_temporal",),  # MUSE's vision tower
}
# Processor kwargs never taken from the config (sizes are set separately; the rest is preprocessing).
_IMAGE_NOT_FROM_CONFIG = frozenset({"size", "crop_size", "pad_size", "image_mean", "image_std", "resample",
                                    "return_tensors", "device", "data_format", "input_data_format"})
# `size` dicts holding pixel areas (min/max pixels) rather than edge lengths have edges this large.
_AREA_SIZE_MIN = 10_000


def scale_image_grid(tiny: dict[str, Any], image_size: int | None = None) -> None:
    """Scale the config's `image_grid_pinpoints` (any-resolution crops, multiples of the original
    image size) to the tiny image size, keeping grids of at most 2x2 crops so images stay small.
    The image processor takes the same pinpoints from the config."""
    for d in [tiny] + [v for v in tiny.values() if isinstance(v, dict)]:
        points = d.get("image_grid_pinpoints")
        if not (isinstance(points, list) and points and all(isinstance(p, list) and len(p) == 2 for p in points)):
            continue
        base = min(min(p) for p in points)
        target = image_size or _find_image_size_dict(tiny)
        kept = [p for p in points if max(p) <= 2 * base] or points[:1]
        d["image_grid_pinpoints"] = [[h * target // base, w * target // base] for h, w in kept]


def _find_image_size_dict(tiny: dict[str, Any]) -> int:
    for d in (tiny, tiny.get("vision_config")):
        size = d.get("image_size") if isinstance(d, dict) else None
        if isinstance(size, int):
            return size
    return DEFAULT_IMAGE_SIZE


def _valid_kwargs(cls: type[Any]) -> set[str]:
    valid = getattr(cls, "valid_kwargs", None)
    return set(getattr(valid, "__annotations__", {}) or {})


def settable_kwargs(cls: type[Any]) -> set[str]:
    """Every setting the class takes: its `valid_kwargs` and its own `__init__` parameters (Emu3's
    `min_pixels`/`max_pixels` are only the latter, and `__init__` rebuilds `size` from them)."""
    return _valid_kwargs(cls) | (set(inspect.signature(cls.__init__).parameters) - {"self", "kwargs"})


def image_config_kwargs(cls: type[Any], default: Any, config: Any) -> dict[str, Any]:
    """Image/video processor kwargs the config also defines (patch size, merge size, image sequence
    length…): patches are cut by the processor but embedded by the model, so both must agree."""
    kwargs: dict[str, Any] = {}
    if config is None:
        return kwargs
    for name in sorted(_valid_kwargs(cls) - _IMAGE_NOT_FROM_CONFIG):
        if name.startswith(("do_", "return_")):
            continue
        value = None
        for key in (name, *_IMAGE_CONFIG_ALIASES.get(name, ())):
            value = config_value(config, key)
            if value is not None:
                break
        current = getattr(default, name, None)
        if isinstance(value, list) and isinstance(current, list | tuple):
            kwargs[name] = value  # e.g. image_grid_pinpoints
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            continue
        if isinstance(current, dict) or dataclasses.is_dataclass(current):
            kwargs[name] = {"height": value, "width": value}
        elif current is None or isinstance(current, int):
            kwargs[name] = value
    # An image processor stacking copies of each image into every patch row (Qwen2-VL's
    # temporal_patch_size 2) for a tower whose config embeds patches but names no temporal patch
    # size: that tower's patch embedding is 2-D (one frame a row), as its checkpoints' processors
    # say with 1. (Video processors may group frames for a temporal merge the model does
    # elsewhere, so they keep their own default.)
    from transformers import BaseVideoProcessor

    if ("temporal_patch_size" in _valid_kwargs(cls) and "temporal_patch_size" not in kwargs
            and not issubclass(cls, BaseVideoProcessor) and config_value(config, "patch_size") is not None):
        kwargs["temporal_patch_size"] = 1
    return kwargs


def _multiple(target: int, kwargs: dict[str, Any]) -> int:
    """Round the image size up so it splits into whole (merged) patches."""
    patch = kwargs.get("patch_size")
    patch = patch.get("height") if isinstance(patch, dict) else patch
    step = (patch or 1) * (kwargs.get("merge_size") or 1)
    return -(-target // step) * step if step > 1 else target


# Settings that need an external program or file no offline build has (Tesseract OCR, a font
# downloaded from the Hub): off, so the processor runs on what the package ships. With OCR off,
# the caller passes the words and their boxes itself.
_OFFLINE_SETTINGS: dict[str, Any] = {"apply_ocr": False, "draw_on_frames": False}
# Seed of the data derived for processor settings checkpoints ship (colour clusters).
_DATA_SEED = 0


def color_clusters(config: Any) -> list[list[float]] | None:
    """Colour-quantization clusters for pixel-token models (ImageGPT): one RGB centre in [-1, 1]
    per pixel token (`vocab_size - 1`, the last id being start-of-sequence), drawn from a seeded
    generator, so the processor's token ids are always inside the tiny vocabulary."""
    import numpy as np

    vocab = config_value(config, "vocab_size") if config is not None else None
    if not isinstance(vocab, int) or vocab < 2:
        return None
    rng = np.random.default_rng(_DATA_SEED)
    return rng.uniform(-1.0, 1.0, size=(vocab - 1, 3)).round(4).tolist()


def _pixel_token_side(config: Any) -> int | None:
    """The largest square image side whose pixels, one token each, fit the config's positions."""
    import math

    for name in ("n_positions", "max_position_embeddings"):
        value = config_value(config, name) if config is not None else None
        if isinstance(value, int) and value > 0:
            return math.isqrt(value)
    return None


def timm_pretrained_cfg(config: Any) -> dict[str, Any] | None:
    """The timm data settings (`pretrained_cfg`: input size, mean, std…) that a timm checkpoint's
    config.json carries and `TimmWrapperImageProcessor` is built from."""
    value = getattr(config, "pretrained_cfg", None) if config is not None else None
    return dict(value) if isinstance(value, dict) else None


# Required processor data a checkpoint ships and the model config determines: kwarg -> deriver.
_DERIVED_KWARGS: dict[str, Any] = {"clusters": color_clusters, "pretrained_cfg": timm_pretrained_cfg}


def _required_kwargs(cls: type[Any], config: Any) -> dict[str, Any]:
    """Derived values for the `__init__` arguments the class has no default for (timm's
    `pretrained_cfg`), so that even its default instance can be made."""
    params = inspect.signature(cls.__init__).parameters.values()
    required = [p.name for p in params if p.default is inspect.Parameter.empty and p.name != "self"
                and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)]
    derived = {name: _DERIVED_KWARGS[name](config) for name in required if name in _DERIVED_KWARGS}
    return {k: v for k, v in derived.items() if v is not None}


def _offline_kwargs(cls: type[Any], default: Any, config: Any) -> dict[str, Any]:
    """Offline settings and derived data for the class's kwargs it has no usable default for."""
    kwargs: dict[str, Any] = {}
    names = settable_kwargs(cls)
    for name, value in _OFFLINE_SETTINGS.items():
        if name in names and getattr(default, name, None) != value:
            kwargs[name] = value
    for name, derive in _DERIVED_KWARGS.items():
        if name in names and getattr(default, name, None) is None:
            value = derive(config)
            if value is not None:
                kwargs[name] = value
    return kwargs


def _pixel_size_kwargs(cls: type[Any], default: Any) -> list[str]:
    """The processor's image-size settings: `size`, `crop_size` and every other `*_size` holding a
    size dict (SAM's `pad_size` 1024, DeepSeek-VL's `high_res_size`): each ends up as the image the
    model sees, so each follows the tiny image size. Only sizes larger than any tiny image count
    (patch sizes are size dicts too); mask sizes (`mask_size`, `mask_pad_size`) only shape
    segmentation targets and keep their defaults."""
    names = ["size", "crop_size"]
    for name in sorted(_valid_kwargs(cls)):
        current = getattr(default, name, None)
        if not name.endswith("_size") or name in names or name.startswith("mask") or current is None:
            continue
        if any(isinstance(v, int) and v > MAX_IMAGE_SIZE for v in _size_items(current).values()):
            names.append(name)
    return names


def build_image_processor(class_name: str, config: Any, image_size: int | None = None,
                          extra: dict[str, Any] | None = None, base: dict[str, Any] | None = None) -> Any:
    """The image (or video) processor class with its sizes set to the tiny config's image size
    (then `extra`, per-type data, on top). `base`: settings to start from instead of the class
    defaults (an original checkpoint's), whose sizes are adapted the same way."""
    import transformers

    cls = getattr(transformers, class_name)
    required = _required_kwargs(cls, config)
    default = cls(**{**(base or {}), **required})
    kwargs = {**required, **image_config_kwargs(cls, default, config), **_offline_kwargs(cls, default, config)}
    if "do_sample_frames" in _valid_kwargs(cls):
        # Frame sampling wants more frames (or fps metadata) than a short sample clip has: use them all.
        kwargs["do_sample_frames"] = False
    target = _multiple(image_size or _find_image_size(config), kwargs)
    if kwargs.get("clusters") is not None:
        # Colour-quantized images become one token per pixel: the side is capped so that the
        # sequence fits the model's positions.
        target = min(target, _pixel_token_side(config) or target)
    for name in _valid_kwargs(cls):
        # Other pixel sizes (Aria's max_image_size: 980, LFM2-VL's tile_size: 512, MiniCPM's
        # scale_resolution: 448, to which every image or slice is upsized) would feed a tiny tower
        # huge patch grids.
        current = getattr(default, name, None)
        pixels = name.endswith(("image_size", "tile_size", "resolution"))
        if pixels and name not in kwargs and isinstance(current, int) and current > target:
            kwargs[name] = target
    for attr in _pixel_size_kwargs(cls, default):
        if attr in kwargs:
            continue  # taken from the config already
        current = getattr(default, attr, None)
        areas = _size_items(current)
        longest = areas.get("longest_edge")
        if attr == "size" and isinstance(areas.get("min_pixels"), int) and areas["min_pixels"] > target * target:
            # Emu3-style pixel areas (`min_pixels` 512²): one target-sized image, like the Qwen case
            # below; the processor's own `min_pixels`/`max_pixels` follow.
            area = target * target
            kwargs[attr] = {"min_pixels": area, "max_pixels": area}
            kwargs.update({k: area for k in ("min_pixels", "max_pixels") if k in settable_kwargs(cls)})
            continue
        if attr == "size" and isinstance(longest, int) and longest >= _AREA_SIZE_MIN:
            # Qwen-style min/max pixel areas: one target-sized image, whatever the input size.
            kwargs[attr] = {"shortest_edge": target * target, "longest_edge": target * target}
            continue
        new = _resized(current, target)
        if new is not None:
            kwargs[attr] = new
    # The base settings under what was adapted above: sizes follow the tiny config, the rest is kept.
    kwargs = {**(base or {}), **kwargs, **(extra or {})}
    return cls(**kwargs) if kwargs else default


# Processor parameters the config names differently (same meaning, different field name).
CONFIG_ALIASES: dict[str, tuple[str, ...]] = {
    "image_seq_length": ("mm_tokens_per_image", "num_image_tokens", "image_seq_len"),
    "image_seq_len": ("image_seq_length", "mm_tokens_per_image", "num_image_tokens"),
    "num_image_tokens": ("image_seq_length", "mm_tokens_per_image", "image_seq_len"),
    "audio_seq_length": ("audio_soft_tokens_per_image", "audio_seq_len"),
    "img_size": ("image_size",),
}


def config_value(config: Any, name: str) -> Any:
    """The first value of `name` (or an alias of it) set anywhere in the config tree, else None."""
    for key in (name, *CONFIG_ALIASES.get(name, ())):
        for cfg in config_tree(config):
            value = getattr(cfg, key, None)
            if value is not None and not callable(value):
                return value
    return None
