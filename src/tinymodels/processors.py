"""Image processors, feature extractors, video processors and whole processors, built locally.

Every processor starts from its class defaults (keeping normalisation and other
settings) and only its sizes are aligned with the tiny config.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import sys
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


# Special tokens every tokenizer already names; a processor never needs them added.
_STANDARD_TOKENS = frozenset({"bos_token", "eos_token", "pad_token", "unk_token", "sep_token", "cls_token",
                              "mask_token", "decoder_start_token"})
# `tokenizer.<name>_token` or `tokenizer.<name>_token_id` in a processor's source.
_TOKEN_REF = re.compile(r"tokenizer\.(\w+_token)(?:_id|_ids)?\b")


def _token_string(name: str) -> str:
    """A readable, unambiguous token string for a named special token (`image_token` -> `<|image|>`)."""
    return f"<|{name.removesuffix('_token')}|>"


def processor_special_tokens(class_name: str) -> dict[str, str]:
    """Named special tokens a `ProcessorMixin` class expects on its tokenizer: name -> token string.

    Read from the class itself: its `__init__` `*_token` parameters with string defaults (their
    values are what checkpoints use) and the `tokenizer.<name>_token[_id]` attributes its module
    reads (those have no default: the tokenizer of a real checkpoint carries them).
    """
    import transformers

    cls = getattr(transformers, class_name, None)
    if cls is None:
        return {}
    out: dict[str, str] = {}
    module = sys.modules.get(cls.__module__)
    try:
        source = inspect.getsource(module) if module is not None else ""
    except (OSError, TypeError):
        source = ""
    for name in _TOKEN_REF.findall(source):
        if name not in _STANDARD_TOKENS:
            out.setdefault(name, _token_string(name))
    for name, param in inspect.signature(cls.__init__).parameters.items():
        if name.endswith("_token") and name not in _STANDARD_TOKENS and isinstance(param.default, str):
            out[name] = param.default
    return out


def config_special_tokens(config: dict[str, Any], vocab: int) -> dict[str, str]:
    """Named tokens for the config's model-specific token ids outside the trained vocabulary.

    `image_token_index: 32000` becomes a special token `image_token`, so every model-specific
    id gets its own distinct id in the tokenizer instead of all being clamped onto one.
    """
    out: dict[str, str] = {}
    todo = [config]
    while todo:
        d = todo.pop()
        for key, value in d.items():
            if isinstance(value, dict):
                todo.append(value)
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < vocab:
                continue
            for suffix in ("_token_id", "_token_index"):
                name = key[: -len(suffix)] + "_token"
                if key.endswith(suffix) and name not in _STANDARD_TOKENS:
                    out.setdefault(name, _token_string(name))
    return out


def add_special_tokens(tokenizer: Any, tokens: dict[str, str]) -> list[str]:
    """Add named special tokens (`tokenizer.image_token`, `.image_token_id`…) the tokenizer lacks.

    They are saved with the tokenizer, so the reloaded processor finds them too. Returns the names added.
    """
    from tokenizers import AddedToken

    new: dict[str, Any] = {}
    for name, text in tokens.items():
        if name in _STANDARD_TOKENS:
            continue
        try:
            current = getattr(tokenizer, name)
        except AttributeError:
            current = None
        if isinstance(current, str) and current:
            continue
        new[name] = AddedToken(text, special=True, normalized=False)
    if not new:
        return []
    # The tokenizer API for named model-specific tokens (what `extra_special_tokens={...}` does on load).
    tokenizer._set_model_specific_special_tokens(new)
    tokenizer.add_tokens(list({str(t): t for t in new.values()}.values()), special_tokens=True)
    return sorted(new)
