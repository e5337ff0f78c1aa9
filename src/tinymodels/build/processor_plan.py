"""Which processor classes a model type gets: registered, borrowed or named by per-type data.

The auto mappings say what a type registers. `plan_processors` then fills what is missing, in
this order: a `ProcessorMixin` of the type's own module or a parent (`_unregistered_processor`),
components of the type its classes live in (`_with_home_components`), the classes a
`ProcessorMixin` declares (`_declared_components`), the type's `processor` override data, and
last a related or generic image processor (`_related_image_processor`). `tokenizer_class` says
which tokenizer, if any, to train. Both take the resolved `ModelType`; the helpers that also
follow other types (homes, parents) take names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

from tinymodels.config.model_type import ModelType
from tinymodels.config.signatures import is_media_only, is_text_only, reads_text_and_media, takes_images

# The image processor for vision models with no processor of their own or of a parent model: plain
# resize, rescale and normalize, which is all a backbone reading `pixel_values` needs.
GENERIC_IMAGE_PROCESSOR = "ViTImageProcessor"
GENERIC_DETECTION_IMAGE_PROCESSOR = "DetrImageProcessor"
# Processor components per-type data may name or configure (`processor: {image_processor: ...}`).
_COMPONENTS = ("image_processor", "feature_extractor", "video_processor")


def plan_processors(model_type: ModelType) -> tuple[Any, dict[str, dict[str, Any]], dict[str, Any], str | None]:
    """(Processor classes, component kwargs, `ProcessorMixin` kwargs, a warning naming a borrowed
    image processor or None) of `model_type`, its override data applied."""
    override = model_type.override
    named, component_kwargs, processor_kwargs = split_processor_override(override.processor if override else {})
    classes = _declared_components(_with_home_components(model_type.name, _unregistered_processor(
        model_type.name, model_type.processors)))
    if named:
        classes = dataclasses.replace(classes, **named)
    classes, borrowed = _related_image_processor(model_type, classes)
    return classes, component_kwargs, processor_kwargs, borrowed


def tokenizer_class(model_type: ModelType, tiny: dict[str, Any], processor: str | None) -> str | None:
    """The tokenizer class to train for the type: named by its override, else what it needs,
    else a generic one when its `ProcessorMixin` (`processor`) holds a tokenizer; None if none."""
    override = model_type.override
    return (override.tokenizer if override and override.tokenizer else None) or _needs_tokenizer(model_type, tiny) \
        or ("TokenizersBackend" if _processor_takes_tokenizer(processor) else None)


def _needs_tokenizer(model_type: ModelType, tiny: dict[str, Any]) -> str | None:
    """The tokenizer class a type needs, or None for types without text input."""
    from tinymodels.preprocess.tokenization import default_tokenizer_class

    name = default_tokenizer_class(model_type.name)
    if name:
        return name
    procs = model_type.processors
    text_vocab = "vocab_size" in tiny or isinstance(tiny.get("text_config"), dict)
    if procs.processor or (text_vocab and not procs.image_processor and not procs.feature_extractor
                           and not is_media_only(model_type.name)):
        return "TokenizersBackend"
    return None


def _unregistered_processor(model_type: str, classes: Any) -> Any:
    """A `ProcessorMixin` for a multimodal type that registers none and no tokenizer either
    (`kosmos-2.5`, `glmga`, `qwen2_5_omni_thinker`): without one no text ids are made at all, and a
    bare tokenizer would not expand the media placeholders. Every architecture must read token ids
    and media. Looked up in the type's own processing module (Kosmos2_5Processor), else the owner it
    inherits from (the Omni thinker reads everything `Qwen2_5OmniProcessor` makes), else its
    modular parents breadth first (glmga -> glm4v, the first package its modular source imports)."""
    import importlib

    import transformers

    from tinymodels.config.discover import config_class, processor_classes

    if classes.processor or classes.tokenizer:
        return classes
    if not reads_text_and_media(model_type):
        return classes
    home = _home_type(config_class(model_type))
    try:
        module = importlib.import_module(f"transformers.models.{home}.processing_{home}")
    except ImportError:
        module = None
    mixin = transformers.ProcessorMixin
    own = [c for c in vars(module).values() if isinstance(c, type) and issubclass(c, mixin) and c is not mixin
           and c.__module__ == module.__name__ and hasattr(transformers, c.__name__)] if module else []
    if own:
        return dataclasses.replace(classes, processor=own[0].__name__)
    for parent in _ancestors(model_type, tuple(t for t in (classes.inherited_from,) if t)):
        try:
            found = processor_classes(parent).processor
        except Exception:  # noqa: BLE001 - a parent that cannot be looked up lends nothing
            continue
        if found:
            return dataclasses.replace(classes, processor=found)
    return classes


def _ancestors(model_type: str, first: tuple[str, ...] = ()) -> Iterator[str]:
    """Types `model_type` derives from, nearest first: `first`, then its modular parents and
    theirs, breadth first; each once."""
    from tinymodels.config.discover import modular_parents

    seen, todo = {model_type}, [*first, *modular_parents(model_type)]
    while todo:
        parent = todo.pop(0)
        if parent in seen:
            continue
        seen.add(parent)
        yield parent
        todo.extend(modular_parents(parent))


def _processor_takes_tokenizer(name: str | None) -> bool:
    """Whether the `ProcessorMixin` named `name` holds a tokenizer."""
    import transformers

    cls = getattr(transformers, name, None) if name else None
    try:
        return cls is not None and "tokenizer" in cls.get_attributes()
    except Exception:  # noqa: BLE001 - a placeholder for a class whose library is missing
        return False


def _home_type(cls: Any) -> str | None:
    """The model type whose `transformers.models.<type>` module defines `cls`."""
    parts = (getattr(cls, "__module__", "") or "").split(".")
    return parts[2] if len(parts) > 2 and parts[1] == "models" else None


def _with_home_components(model_type: str, classes: Any, depth: int = 0) -> Any:
    """Fill processor components the type's own mappings lack from its home model type: the type
    the processor class belongs to (`diffusion_gemma` uses `Gemma4Processor`, whose feature
    extractor is registered for `gemma4`) or, for sub-model types with no processor at all
    (`clip_vision_model`), the type whose module defines the config (`clip`)."""
    import transformers

    from tinymodels.config.discover import config_class, processor_classes

    if classes.processor:
        home = _home_type(getattr(transformers, classes.processor, None))
        skip = {"tokenizer"}
    elif not (classes.image_processor or classes.feature_extractor or classes.video_processor):
        home = _home_type(config_class(model_type))
        skip = {"tokenizer", "processor"}  # the sub-model takes one medium, not the whole processor
    else:
        return classes
    if home is None or home == model_type:
        return classes
    if not classes.processor and is_text_only(model_type):
        # A text sub-model (`gemma4_text`) reads token ids only: borrowed media processors would be
        # saved unused, and an image processor plus a feature extractor overwrite each other's
        # preprocessor_config.json, so the reload fails.
        return classes
    try:
        found = processor_classes(home)
    except Exception:  # noqa: BLE001 - the module name is not always a model type
        return classes
    if depth < 2:
        # The home type may itself borrow (glm4v_moe_vision -> glm4v_moe -> Glm4vProcessor -> glm4v).
        found = _with_home_components(home, found, depth + 1)
    fill = {f.name: getattr(found, f.name) for f in dataclasses.fields(classes)
            if f.name not in skip and getattr(classes, f.name) is None and getattr(found, f.name) is not None}
    return dataclasses.replace(classes, **fill) if fill else classes


def _related_image_processor(model_type: ModelType, classes: Any) -> tuple[Any, str | None]:
    """An image processor for a vision type with no processor class at all (`d_fine`, `vitdet`):
    that of the nearest model it is derived from (its modular source's parents, breadth first:
    `d_fine` → `rt_detr`), else the generic one. Returns (classes, a warning saying which)."""
    from tinymodels.config.discover import processor_classes

    empty = not (classes.tokenizer or classes.image_processor or classes.feature_extractor
                 or classes.video_processor or classes.processor)
    if not empty or not takes_images(model_type.name):
        return classes, None
    for parent in _ancestors(model_type.name):
        try:
            found = _with_home_components(parent, processor_classes(parent))
        except Exception:  # noqa: BLE001 - a parent that cannot be looked up lends nothing
            continue
        if found.image_processor:
            return (dataclasses.replace(classes, image_processor=found.image_processor),
                    f"processor: no image processor registered; using {found.image_processor} of {parent}")
    # A detector's boxes come out of its processor's `post_process_object_detection` (the
    # object-detection pipeline calls it): DETR's processor has one, ViT's does not.
    generic = GENERIC_DETECTION_IMAGE_PROCESSOR if model_type.has_head("MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES") \
        else GENERIC_IMAGE_PROCESSOR
    return (dataclasses.replace(classes, image_processor=generic),
            f"processor: no image processor registered; using the generic {generic}")


def _declared_components(classes: Any) -> Any:
    """Fill components a `ProcessorMixin` declares by concrete class (`feature_extractor_class =
    "DacFeatureExtractor"`) when no mapping registers one for the type (`Auto*` names say nothing)."""
    import transformers

    cls = getattr(transformers, classes.processor, None) if classes.processor else None
    if cls is None:
        return classes
    fill = {}
    for attr in _COMPONENTS:
        try:
            name = getattr(cls, f"{attr}_class", None)
        except ImportError:
            # A placeholder for a class whose optional library is missing: building it later says which.
            return classes
        if getattr(classes, attr) is None and isinstance(name, str) and not name.startswith("Auto") \
                and hasattr(transformers, name):
            fill[attr] = name
    return dataclasses.replace(classes, **fill) if fill else classes


def split_processor_override(data: dict[str, Any]) -> tuple[dict[str, str | None], dict[str, dict[str, Any]], dict[str, Any]]:
    """Split an override's `processor` mapping into (component classes, component kwargs, processor kwargs).

    `image_processor: Idefics3ImageProcessor` names the class of a component the type's mappings do
    not register; `image_processor: {class: X, key: value}` also (or only) sets its kwargs;
    `class: X` names the `ProcessorMixin` itself when no mapping registers one (Kosmos-2); a
    component or `class` set to null is dropped; every other key is a kwarg of the `ProcessorMixin`.
    """
    classes: dict[str, str | None] = {}
    component_kwargs: dict[str, dict[str, Any]] = {}
    rest: dict[str, Any] = {}
    for key, value in (data or {}).items():
        if key == "class" and (value is None or isinstance(value, str)):
            # `class: null` drops a registered `ProcessorMixin` whose construction itself needs
            # the network (MGP-STR's downloads two Hub tokenizers): its components are used alone.
            classes["processor"] = value
        elif key not in _COMPONENTS:
            rest[key] = value
        elif value is None or isinstance(value, str):
            classes[key] = value  # None drops a registered component the model reads nothing from
        elif isinstance(value, dict):
            settings = dict(value)
            if isinstance(settings.get("class"), str):
                classes[key] = settings.pop("class")
            component_kwargs[key] = settings
    return classes, component_kwargs, rest
