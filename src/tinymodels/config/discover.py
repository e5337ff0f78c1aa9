"""Discovery from the installed transformers: model types, architectures, processor classes."""

from __future__ import annotations

import difflib
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final, cast

from tinymodels.config.walk import sub_config_classes
from tinymodels.errors import UnknownModelTypeError

# The composite models upstream builds, with the (encoder, decoder) types in their names.
COMPOSITES: Final[dict[str, tuple[str, str]]] = {
    "encoder-decoder": ("bert", "bert"),
    "vision-encoder-decoder": ("vit", "gpt2"),
    "speech-encoder-decoder": ("wav2vec2", "bert"),
    "vision-text-dual-encoder": ("vit", "bert"),
}


@functools.cache
def all_model_types() -> tuple[str, ...]:
    """Every model type the installed transformers registers, sorted."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    return tuple(sorted(CONFIG_MAPPING_NAMES))


def resolve_model_types(requested: list[str], all_types: bool = False) -> list[str]:
    """Validate requested model types (deduplicated, order kept) or return all of them.

    Raises:
        UnknownModelTypeError: a type is not registered; the message names close matches.
    """
    known = all_model_types()
    if all_types:
        return _drop_aliases(list(known))
    unknown = [t for t in requested if t not in known]
    if unknown:
        parts = []
        for t in unknown:
            close = difflib.get_close_matches(t, known, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
            parts.append(f"{t!r}{hint}")
        msg = (
            f"unknown model type {', '.join(parts)}. Model types are the keys of transformers' "
            "CONFIG_MAPPING, e.g. 'bert', 'gpt2', 'llama'."
        )
        raise UnknownModelTypeError(msg)
    return _drop_aliases(list(dict.fromkeys(requested)))


def _drop_aliases(types: list[str]) -> list[str]:
    """Keep one model type per config class.

    Some types are aliases sharing another's config class (gpt-sw3 → GPT2Config); reports are
    keyed by config class, so building both would make one overwrite the other. The type the
    config class names itself wins; an alias requested alone is kept.
    """
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    # Group by class *name* (no import); only the few shared classes get imported below.
    by_config: dict[str, list[str]] = {}
    for t in types:
        by_config.setdefault(CONFIG_MAPPING_NAMES[t], []).append(t)
    drop: set[str] = set()
    for group in by_config.values():
        if len(group) > 1:
            canonical = config_class(group[0]).model_type
            keep = canonical if canonical in group else group[0]
            drop.update(t for t in group if t != keep)
    return [t for t in types if t not in drop]


@functools.cache
def _model_mappings() -> tuple[tuple[str, dict[str, object]], ...]:
    """(name, mapping) for every auto model mapping, base MODEL_MAPPING first, then by name."""
    from transformers.models.auto import modeling_auto

    names = sorted(
        n for n in dir(modeling_auto)
        if n.startswith("MODEL") and n.endswith("_MAPPING_NAMES") and n != "MODEL_NAMES_MAPPING"
    )
    names.remove("MODEL_MAPPING_NAMES")
    names.insert(0, "MODEL_MAPPING_NAMES")
    return tuple((n, getattr(modeling_auto, n)) for n in names)


def _as_names(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    # Neither None nor a str: a tuple or list of names (the mappings hold nothing else).
    return [v for v in cast(Iterable[object], value) if isinstance(v, str)]


@functools.cache
def architecture_mappings(model_type: str) -> dict[str, tuple[str, ...]]:
    """Architecture class name -> the auto mappings that register it, in deterministic order.

    Types in no auto mapping (sub-config types such as `clip_text_model`) get the model
    classes of their package whose `config_class` is exactly theirs, with no mapping
    (an empty tuple: they are reloaded through the class itself).
    """
    out: dict[str, list[str]] = {}
    for mapping_name, mapping in _model_mappings():
        for name in _as_names(mapping.get(model_type)):
            out.setdefault(name, []).append(mapping_name)
    if not out:
        return {name: () for name in package_model_classes(model_type)}
    return {k: tuple(v) for k, v in out.items()}


def _is_concrete(cls: type, candidates: list[type]) -> bool:
    """False for abstract bases (no `forward` of their own) and thin aliases of another candidate.

    `XPreTrainedModel` bases share the config class but cannot run; deprecated aliases
    (`class Old(New)` with only a warning) would build the same model twice.
    """
    import torch

    forward = getattr(cls, "forward", None)
    if forward is None or forward is torch.nn.Module.forward:
        return False
    return not any(other is not cls and issubclass(cls, other) and getattr(other, "forward", None) is forward
                   for other in candidates)


@functools.cache
def package_model_classes(model_type: str) -> tuple[str, ...]:
    """Concrete `PreTrainedModel` classes of the config's package whose `config_class` is that config.

    Sorted by name; classes exported at the transformers top level are preferred (the
    builder instantiates by top-level name), others are used only when none is exported.
    """
    import importlib

    import transformers
    from transformers import PreTrainedModel

    cfg = config_class(model_type)
    package = cfg.__module__.rsplit(".", 1)[0]
    try:
        module = importlib.import_module(package)
    except ImportError:
        return ()
    found: dict[str, type] = {}
    for name in sorted(dir(module)):
        if name.startswith("_"):
            continue
        try:
            obj = getattr(module, name)
        except Exception:  # noqa: BLE001 - a modeling file's lazy import fails with whatever its optional dependency raises
            continue
        if isinstance(obj, type) and issubclass(obj, PreTrainedModel) and getattr(obj, "config_class", None) is cfg:
            found[name] = obj
    candidates = list(found.values())
    concrete = [n for n, c in found.items() if _is_concrete(c, candidates)]
    exported = [n for n in concrete if getattr(transformers, n, None) is found[n]]
    return tuple(exported or concrete)


def architectures_for(model_type: str) -> list[str]:
    """Every architecture registered for `model_type` in any auto model mapping."""
    return list(architecture_mappings(model_type))


@functools.cache
def auto_class_name(mapping_name: str) -> str:
    """MODEL_FOR_CAUSAL_LM_MAPPING_NAMES -> AutoModelForCausalLM (via transformers' own table).

    Cached: every architecture reload asks, and the answer is a scan of the auto module.
    """
    from transformers.models.auto import modeling_auto

    stem = mapping_name.removesuffix("_NAMES")
    for attr in dir(modeling_auto):
        if not attr.startswith("AutoModel"):
            continue
        cls = getattr(modeling_auto, attr)
        mapping = getattr(cls, "_model_mapping", None)
        if mapping is not None and getattr(mapping, "_model_mapping", None) is getattr(modeling_auto, mapping_name):
            return attr
    raise LookupError(f"no Auto class for {stem}")


@dataclass(frozen=True)
class ProcessorClasses:
    """Processor class names registered for a model type (None when absent)."""

    tokenizer: str | None
    image_processor: str | None
    image_processor_pil: str | None
    feature_extractor: str | None
    video_processor: str | None
    processor: str | None
    # The model type these classes were inherited from (sub-config types), else None.
    inherited_from: str | None = None

    def is_empty(self) -> bool:
        return not any((self.tokenizer, self.image_processor, self.feature_extractor, self.video_processor,
                        self.processor))


def is_tokenizer_class(name: str) -> bool:
    """Upstream's rule (minus its stray-quote bug): tokenizers end in Tokenizer/TokenizerFast/TokenizersBackend."""
    return name.endswith(("Tokenizer", "TokenizerFast", "TokenizersBackend"))


@functools.cache
def processor_classes(model_type: str) -> ProcessorClasses:
    """The processor classes transformers maps to `model_type`.

    A sub-config type with none registered (`blip_vision_model`) inherits them from the
    model type whose config holds it (`blip`), for its modality only: the tokenizer for
    `text_config`, image and video processors for `vision_config`, the feature extractor
    for `audio_config` (keys naming no modality: the tokenizer when the sub-config has a
    vocabulary, else the non-text processors). The owner's ProcessorMixin is not
    inherited: it wants every modality and its special tokens, while the sub-model takes
    one input, and two side-by-side processors could both claim preprocessor_config.json.
    """
    own = _registered_processor_classes(model_type)
    if not own.is_empty():
        return own
    found = _owner(model_type)
    if found is None:
        return own
    owner, key = found
    inherited = processor_classes(owner)
    modality = _modality(key)
    if modality is None:
        # The key names no modality: a vocabulary means text input, anything else is not text.
        modality = "text" if "vocab_size" in _default_config_dict(model_type) else "other"
    # One non-text processor at most: an image processor and a feature extractor saved side
    # by side would both write preprocessor_config.json. Videos only for video-only owners.
    image = modality in ("vision", "other") and inherited.image_processor is not None
    audio = (modality == "audio" or modality == "other" and not image) and inherited.feature_extractor is not None
    video = modality in ("vision", "other") and not image and not audio
    return ProcessorClasses(
        tokenizer=inherited.tokenizer if modality == "text" else None,
        image_processor=inherited.image_processor if image else None,
        image_processor_pil=inherited.image_processor_pil if image else None,
        feature_extractor=inherited.feature_extractor if audio else None,
        video_processor=inherited.video_processor if video else None,
        processor=None,
        inherited_from=inherited.inherited_from or owner,
    )


# Sub-config keys name their modality by transformers' convention (`vision_config`, `audio_config`).
_MODALITY_WORDS: Final[dict[str, tuple[str, ...]]] = {
    "audio": ("audio", "speech", "acoustic"),
    "vision": ("vision", "visual", "image", "video"),
    "text": ("text",),
}


def _modality(key: str) -> str | None:
    for modality, words in _MODALITY_WORDS.items():
        if any(w in key for w in words):
            return modality
    return None


def _default_config_dict(model_type: str) -> dict[str, object]:
    try:
        return config_class(model_type)().to_dict()
    except Exception:  # noqa: BLE001 - a config that cannot be built with defaults (any error) has no usable vocabulary either
        return {}


def owner_model_type(model_type: str) -> str | None:
    """The registered model type whose config holds this one as a sub-config (see `_owner`)."""
    found = _owner(model_type)
    return found[0] if found else None


@functools.cache
def _owner(model_type: str) -> tuple[str, str] | None:
    """(owner model type, sub-config key) for a sub-config type, or None.

    The owner is a model type of the same package, with processor classes of its own,
    whose config holds this config as a sub-config, also nested (thinker → audio
    encoder); the key is the innermost sub-config key (`audio_config`). Only config
    classes of the same package are looked at, so that no other package is imported;
    owners are tried by model type name.
    """
    import importlib

    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    cfg = config_class(model_type)
    module = importlib.import_module(cfg.__module__.rsplit(".", 1)[0])
    for other, class_name in sorted(CONFIG_MAPPING_NAMES.items()):
        owner_cls = getattr(module, class_name, None) if other != model_type else None
        if not isinstance(owner_cls, type) or _registered_processor_classes(other).is_empty():
            continue
        found = next((key for key, sub in sub_config_classes(owner_cls) if sub is cfg), None)
        if found is not None:
            return other, found
    return None


@functools.cache
def _registered_processor_classes(model_type: str) -> ProcessorClasses:
    """The processor classes transformers' auto mappings register for `model_type` itself."""
    from transformers.models.auto.feature_extraction_auto import FEATURE_EXTRACTOR_MAPPING_NAMES
    from transformers.models.auto.image_processing_auto import IMAGE_PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES
    from transformers.models.auto.video_processing_auto import VIDEO_PROCESSOR_MAPPING_NAMES

    image = IMAGE_PROCESSOR_MAPPING_NAMES.get(model_type) or {}
    video = VIDEO_PROCESSOR_MAPPING_NAMES.get(model_type) or {}
    if isinstance(video, dict):
        video = video.get("torchvision") or next(iter(video.values()), None)
    tok = TOKENIZER_MAPPING_NAMES.get(model_type)
    if isinstance(tok, tuple | list):
        tok = next((t for t in tok if t), None)
    return ProcessorClasses(
        tokenizer=tok,
        image_processor=(image.get("torchvision") or image.get("pil")) if isinstance(image, dict) else image,
        image_processor_pil=image.get("pil") if isinstance(image, dict) else None,
        feature_extractor=FEATURE_EXTRACTOR_MAPPING_NAMES.get(model_type),
        video_processor=video or None,
        processor=PROCESSOR_MAPPING_NAMES.get(model_type),
    )


# `from ..rt_detr.modeling_rt_detr import ...` in a modular source file: the package it derives from.
_MODULAR_IMPORT = re.compile(r"^\s*from\s+\.\.(\w+)(?:\.|\s)", re.MULTILINE)


@functools.cache
def modular_parents(model_type: str) -> tuple[str, ...]:
    """Model types the type's package is derived from, in import order: the packages its
    `modular_*.py` source (from which transformers generates the modeling file) imports from.

    `d_fine` → (`rt_detr`, `rt_detr_v2`); empty when the package ships no modular source.
    """
    import importlib.util
    from pathlib import Path

    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES, model_type_to_module_name

    package = config_class(model_type).__module__.rsplit(".", 1)[0]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return ()
    own = package.rsplit(".", 1)[-1]
    by_package: dict[str, list[str]] = {}
    for other in sorted(CONFIG_MAPPING_NAMES):
        by_package.setdefault(model_type_to_module_name(other), []).append(other)
    parents: list[str] = []
    for folder in spec.submodule_search_locations:
        for path in sorted(Path(folder).glob("modular_*.py")):
            for name in _MODULAR_IMPORT.findall(path.read_text(encoding="utf-8")):
                types = by_package.get(name, [])
                # The type named like its package is the family's main one (`glm4v`, not `glm4v_text`).
                main = name if name in types else next(iter(types), None)
                if name != own and main and main not in parents:
                    parents.append(main)
    return tuple(parents)


def config_class(model_type: str) -> type[Any]:
    """The config class of `model_type`."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING

    return CONFIG_MAPPING[model_type]


def auto_mapped_pairs() -> list[tuple[str, str, str]]:
    """(model type, config class name, architecture) for every pair of the auto model mappings,
    sorted: the denominator of the coverage target. Reports key entries by config class name,
    so an alias type (gpt-sw3 → GPT2Config) is found under the type that was built."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    pairs = {(t, CONFIG_MAPPING_NAMES.get(t, t), a)
             for _, mapping in _model_mappings() for t, value in mapping.items() for a in _as_names(value)}
    return sorted(pairs)
