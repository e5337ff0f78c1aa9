"""Image processors, feature extractors, video processors and whole processors, built locally.

Every processor starts from its class defaults (keeping normalisation and other
settings) and only its sizes are aligned with the tiny config.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

DEFAULT_IMAGE_SIZE = 32
MAX_IMAGE_SIZE = 64


@dataclass
class Processors:
    """The processor objects of one model type (None when the type has none)."""

    tokenizer: Any = None
    image_processor: Any = None
    feature_extractor: Any = None
    video_processor: Any = None
    processor: Any = None
    warnings: list[str] = field(default_factory=list)

    def class_names(self) -> list[str]:
        """Class names for the reports (upstream lists every processor class it saved)."""
        objs = [self.tokenizer, self.image_processor, self.feature_extractor, self.video_processor, self.processor]
        return sorted({type(o).__name__ for o in objs if o is not None})

    def save(self, path: Any) -> None:
        """Save as transformers would: the whole processor when there is one."""
        if self.processor is not None:
            self.processor.save_pretrained(path)
            return
        for obj in (self.tokenizer, self.image_processor, self.feature_extractor, self.video_processor):
            if obj is not None:
                obj.save_pretrained(path)


def _resized(size: Any, target: int) -> dict[str, int] | None:
    """Replace every set dimension of a size dict/SizeDict by `target`."""
    if size is None:
        return None
    items = dataclasses.asdict(size) if dataclasses.is_dataclass(size) else dict(size)
    items = {k: v for k, v in items.items() if v is not None}
    if not items:
        return None
    if "shortest_edge" in items and "longest_edge" in items:
        return {"shortest_edge": target, "longest_edge": target}
    keep = {k: target for k in items if k in ("height", "width", "shortest_edge", "longest_edge")}
    return keep or None


def _find_image_size(config: Any) -> int:
    for cfg in (config, getattr(config, "vision_config", None)):
        size = getattr(cfg, "image_size", None) if cfg is not None else None
        if isinstance(size, int):
            return size
        if isinstance(size, list | tuple) and size:
            return int(size[0])
    return DEFAULT_IMAGE_SIZE


def build_image_processor(class_name: str, config: Any, image_size: int | None = None) -> Any:
    """The image (or video) processor class with its sizes set to the tiny config's image size."""
    import transformers

    cls = getattr(transformers, class_name)
    target = image_size or _find_image_size(config)
    default = cls()
    kwargs: dict[str, Any] = {}
    for attr in ("size", "crop_size"):
        new = _resized(getattr(default, attr, None), target)
        if new is not None:
            kwargs[attr] = new
    return cls(**kwargs) if kwargs else default


def build_feature_extractor(class_name: str, config: Any) -> Any:
    """The feature extractor with feature size / mel bins matching the tiny config."""
    import transformers

    cls = getattr(transformers, class_name)
    default = cls()
    kwargs: dict[str, Any] = {}
    for cfg in (config, getattr(config, "audio_config", None), getattr(config, "encoder", None)):
        if cfg is None:
            continue
        mel = getattr(cfg, "num_mel_bins", None) or getattr(cfg, "input_feat_per_channel", None)
        if isinstance(mel, int) and getattr(default, "feature_size", mel) != mel and mel > 1:
            kwargs["feature_size"] = mel
            if hasattr(default, "num_mel_bins"):
                kwargs["num_mel_bins"] = mel
            break
    return cls(**kwargs) if kwargs else default


def build_processor(class_name: str, parts: Processors) -> Any:
    """A `ProcessorMixin` assembled from already-built parts."""
    import transformers

    cls = getattr(transformers, class_name)
    available = {
        "tokenizer": parts.tokenizer,
        "image_processor": parts.image_processor,
        "feature_extractor": parts.feature_extractor,
        "video_processor": parts.video_processor,
        "audio_processor": parts.feature_extractor,
    }
    kwargs = {}
    for attr in cls.get_attributes():
        if available.get(attr) is None:
            raise ValueError(f"{class_name} needs a {attr}, which could not be built")
        kwargs[attr] = available[attr]
    return cls(**kwargs)
