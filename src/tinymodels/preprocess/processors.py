"""Whole processors (`ProcessorMixin`), assembled locally from already-built parts.

Their own settings follow the tiny config. Image and video processors are sized in
`image_processors.py`, feature extractors in `feature_extractors.py`; the special tokens a
processor expects on its tokenizer come from `special_tokens.py`.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any

from tinymodels.config.walk import config_tree
from tinymodels.preprocess.image_processors import CONFIG_ALIASES, config_value


@dataclass
class Processors:
    """The processor objects of one model type (None when the type has none)."""

    tokenizer: Any = None
    image_processor: Any = None
    feature_extractor: Any = None
    video_processor: Any = None
    processor: Any = None
    warnings: list[str] = field(default_factory=list)
    # The chat format whose template the tokenizer/processor carry (`validate/chat.py`), if any.
    chat_format: str | None = None
    # Report fields saying where the tokenizer/processors came from (`originals.Source.record`).
    sources: dict[str, Any] = field(default_factory=dict)

    @property
    def text_tokenizer(self) -> Any:
        """The tokenizer, standalone or the `ProcessorMixin`'s own (None when there is none)."""
        return self.tokenizer if self.tokenizer is not None else getattr(self.processor, "tokenizer", None)

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


def processor_config_kwargs(cls: type[Any], config: Any) -> dict[str, Any]:
    """Processor `__init__` parameters the model config also defines (patch size, image sequence
    length, feature select strategy…): a checkpoint's processor config repeats them, so they
    must follow the tiny config."""
    if config is None:
        return {}
    attrs = set(cls.get_attributes())
    kwargs: dict[str, Any] = {}
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name in attrs or name in ("self", "chat_template") or name.endswith("_token"):
            continue
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        value = config_value(config, name)
        if name in CONFIG_ALIASES["num_image_tokens"] + ("num_image_tokens",):
            # Tokens per image follow the tiny patch grid; a config value above it is a full-size
            # default the model itself does not use (InternVL's image_seq_length: 256).
            patches = _patches_per_image(config)
            if patches and (not isinstance(value, int) or value > patches):
                value = patches
        if value is not None and (param.default is None or type(value) is type(param.default)):
            kwargs[name] = value
    return kwargs


# Config fields shrinking the patch grid before the language model (pixel shuffle), per side.
_DOWNSAMPLE_FIELDS = ("downsample_ratio", "scale_factor", "pixel_shuffle_factor")


def _patches_per_image(config: Any) -> int | None:
    """Tokens per image: (image_size // patch_size)² of the first sub-config defining both (one
    token per patch), times downsample_ratio² when the config shuffles pixels before the LM."""
    for cfg in config_tree(config):
        size, patch = getattr(cfg, "image_size", None), getattr(cfg, "patch_size", None)
        size = size[0] if isinstance(size, list | tuple) and size else size
        patch = patch[0] if isinstance(patch, list | tuple) and patch else patch
        if isinstance(size, int) and isinstance(patch, int) and patch > 0:
            tokens = (size // patch) ** 2
            for name in _DOWNSAMPLE_FIELDS:
                ratio = config_value(config, name)
                if isinstance(ratio, float) and 0 < ratio < 1:
                    return int(tokens * ratio * ratio)
                if isinstance(ratio, int) and not isinstance(ratio, bool) and ratio > 1:
                    # An integer factor merges ratio x ratio patches into one token (Idefics3's
                    # pixel shuffle `scale_factor: 2`).
                    return max(1, tokens // (ratio * ratio))
            return tokens
    return None


def build_processor(class_name: str, parts: Processors, config: Any = None,
                    extra: dict[str, Any] | None = None) -> Any:
    """A `ProcessorMixin` assembled from already-built parts, its own settings taken from the config
    (then from `extra`, per-type data)."""
    import transformers

    cls = getattr(transformers, class_name)
    available = {
        "tokenizer": parts.tokenizer,
        "image_processor": parts.image_processor,
        "feature_extractor": parts.feature_extractor,
        "video_processor": parts.video_processor,
        "audio_processor": parts.feature_extractor,
    }
    kwargs = {**processor_config_kwargs(cls, config), **(extra or {})}
    for attr in cls.get_attributes():
        if attr not in available and attr.endswith("_tokenizer") and attr != "audio_tokenizer":
            # A second text tokenizer (InstructBLIP's Q-Former): the trained one serves both.
            available[attr] = parts.tokenizer
        if available.get(attr) is None:
            raise ValueError(f"{class_name} needs a {attr}, which could not be built")
        kwargs[attr] = available[attr]
    return cls(**kwargs)
