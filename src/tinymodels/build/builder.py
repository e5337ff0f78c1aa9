"""One model type end to end: tiny config → processors → models → validation → result entry.

`build_model_type` is what a worker runs. It writes validated architecture folders
into `out_dir` (the runner moves them into place) and returns upstream's result
entry for the creation report. Nothing fails silently: every architecture that is
not built carries an error, its traceback and a category.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tinymodels.options import BuildOptions

# Stage names double as failure categories in the reports.
STAGES = ("skipped", "missing-dependency", "config", "tokenizer", "processor", "instantiate", "save-reload",
          "forward", "generate", "pipeline", "chat", "train")


class StageError(RuntimeError):
    """A failure tagged with the pipeline stage it happened in."""

    def __init__(self, stage: str, exc: BaseException, detail: str = "") -> None:
        super().__init__(scrub(f"{detail + ': ' if detail else ''}{type(exc).__name__}: {exc}"))
        self.stage = stage
        self.trace = scrub("".join(traceback.format_exception(exc)))
        self.category = categorize(stage, exc)
        # Levels the architecture passed before this failure (`fidelity.check.run_levels`).
        self.levels: dict[str, Any] = {}


_VOLATILE = re.compile(re.escape(tempfile.gettempdir()) + r"/tinymodels-[\w.-]+|\.staging-\d+-")


def scrub(text: str) -> str:
    """Drop per-run temporary paths from messages, so reports are identical across runs."""
    return _VOLATILE.sub(lambda m: ".staging-" if m.group(0).startswith(".staging") else "<tmp>", text)


def categorize(stage: str, exc: BaseException) -> str:
    """Failure category: missing optional libraries are told apart from real failures."""
    text = str(exc)
    if isinstance(exc, ImportError) or "library but it was not found" in text or "requires the" in text and "library" in text:
        return "missing-dependency"
    return stage


def quiet_libraries() -> None:
    """Silence transformers' per-model progress bars and advice; our own log says what happened."""
    import warnings

    import transformers
    from huggingface_hub.utils import disable_progress_bars

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    disable_progress_bars()
    warnings.filterwarnings("ignore")


def one_thread() -> None:
    """Run torch on one thread: tiny models gain nothing from intra-op threads, and with parallel
    workers on few cores the threads' spin-waits oversubscribe them (measured: a tiny BERT forward
    0.27 s with 2 threads beside two busy workers, 0.002 s with 1)."""
    import torch

    torch.set_num_threads(1)


def _stage(stage: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    from tinymodels.validate.levels import LevelError

    try:
        return fn(*args, **kwargs)
    except StageError:
        raise
    except LevelError as exc:
        # A later validation level failed: it is the stage, and its own exception the cause.
        raise StageError(exc.level, exc.error, exc.detail) from exc.error
    except Exception as exc:
        raise StageError(stage, exc) from exc


def _error(err: StageError) -> dict[str, Any]:
    from tinymodels.validate.levels import FAILED, LEVELS

    out: dict[str, Any] = {"model": None, "checkpoint": None, "error": [f"[{err.stage}] {err}", err.trace],
                           "category": err.category}
    if err.stage in LEVELS:
        out["level"] = err.stage
        if err.stage != "pipeline":  # a failed pipeline task is marked in its own map
            err.levels[err.stage] = FAILED
    if err.levels:
        out["levels"] = err.levels
    return out


def nothing_to_build(entry: dict[str, Any], override: Any, archs: list[str]) -> bool:
    """Fill `entry` for a type skipped by the overrides or without architectures; True if so."""
    if override and override.skip:
        err = StageError("skipped", RuntimeError(override.reason))
        err.category = "skipped"
        entry["error"] = [f"[skipped] {override.reason}", None]
        entry["pytorch"] = {a: _error(err) for a in archs}
        return True
    if not archs:
        entry["error"] = ["no architecture to build (none registered in an auto model mapping, or all skipped)", None]
        return True
    return False


def _needs_tokenizer(model_type: str, tiny: dict[str, Any]) -> str | None:
    """The tokenizer class a type needs, or None for types without text input."""
    from tinymodels.config.discover import processor_classes
    from tinymodels.preprocess.tokenization import default_tokenizer_class

    name = default_tokenizer_class(model_type)
    if name:
        return name
    procs = processor_classes(model_type)
    text_vocab = "vocab_size" in tiny or isinstance(tiny.get("text_config"), dict)
    if procs.processor or (text_vocab and not procs.image_processor and not procs.feature_extractor
                           and not _is_media_only(model_type)):
        return "TokenizersBackend"
    return None


def _is_media_only(model_type: str) -> bool:
    """True when every architecture's `forward` takes a media input and no token ids: an audio
    encoder sub-model (`voxtral_encoder`) keeps its parent's `vocab_size` but reads no text, and a
    tokenizer's text `attention_mask` would be passed to it as an audio mask."""
    params = _forward_params(model_type)
    return bool(params) and all(any(MEDIA_INPUT.search(n) for n in p) and not any(n.endswith("input_ids") for n in p)
                                for p in params)


def _forward_of(arch: str) -> Any:
    """`transformers.<arch>.forward`, or None when the class is not exported or is a placeholder of
    a library that is not installed (those raise ImportError on any attribute)."""
    import transformers

    try:
        return getattr(getattr(transformers, arch, None), "forward", None)
    except ImportError:
        return None


def _forward_params(model_type: str) -> list[set[str]]:
    """The `forward` parameter names of each architecture of the type; empty when it has none or
    any architecture's class cannot be inspected (then no rule about all of them holds)."""
    import inspect

    from tinymodels.config.discover import architecture_mappings

    forwards = [_forward_of(a) for a in architecture_mappings(model_type)]
    if not forwards or any(f is None for f in forwards):
        return []
    return [set(inspect.signature(f).parameters) for f in forwards]


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
    params = _forward_params(model_type)
    if not params or not all("input_ids" in p and any(MEDIA_INPUT.search(n) for n in p) for p in params):
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


# Forward parameters carrying media (pixels, patches, audio features or waveforms; Pix2Struct-style
# flattened patches).
MEDIA_INPUT = re.compile(r"pixel_values|^input_features$|^input_values$|^audio_values$|^grid_thw$|^flattened_patches$")


def _is_text_only(model_type: str) -> bool:
    """True when every architecture's `forward` takes `input_ids` and no media input."""
    params = _forward_params(model_type)
    return bool(params) and all("input_ids" in p and not any(MEDIA_INPUT.search(n) for n in p) for p in params)


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
    if not classes.processor and _is_text_only(model_type):
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


# Forward parameters carrying images (pixels, or a vision tower's flattened patches with their grid).
_IMAGE_INPUT = re.compile(r"pixel_values$|^grid_thw$")
# The image processor for vision models with no processor of their own or of a parent model: plain
# resize, rescale and normalize, which is all a backbone reading `pixel_values` needs.
GENERIC_IMAGE_PROCESSOR = "ViTImageProcessor"
GENERIC_DETECTION_IMAGE_PROCESSOR = "DetrImageProcessor"


def _takes_images(model_type: str) -> bool:
    """True when some architecture's `forward` takes an image input."""
    import inspect

    from tinymodels.config.discover import architecture_mappings

    for arch in architecture_mappings(model_type):
        forward = _forward_of(arch)
        if forward is not None and any(_IMAGE_INPUT.search(n) for n in inspect.signature(forward).parameters):
            return True
    return False


def _related_image_processor(model_type: str, classes: Any) -> tuple[Any, str | None]:
    """An image processor for a vision type with no processor class at all (`d_fine`, `vitdet`):
    that of the nearest model it is derived from (its modular source's parents, breadth first:
    `d_fine` → `rt_detr`), else the generic one. Returns (classes, a warning saying which)."""
    from tinymodels.config.discover import processor_classes

    empty = not (classes.tokenizer or classes.image_processor or classes.feature_extractor
                 or classes.video_processor or classes.processor)
    if not empty or not _takes_images(model_type):
        return classes, None
    for parent in _ancestors(model_type):
        try:
            found = _with_home_components(parent, processor_classes(parent))
        except Exception:  # noqa: BLE001 - a parent that cannot be looked up lends nothing
            continue
        if found.image_processor:
            return (dataclasses.replace(classes, image_processor=found.image_processor),
                    f"processor: no image processor registered; using {found.image_processor} of {parent}")
    # A detector's boxes come out of its processor's `post_process_object_detection` (the
    # object-detection pipeline calls it): DETR's processor has one, ViT's does not.
    generic = GENERIC_DETECTION_IMAGE_PROCESSOR if _has_head(model_type, "MODEL_FOR_OBJECT_DETECTION_MAPPING_NAMES") \
        else GENERIC_IMAGE_PROCESSOR
    return (dataclasses.replace(classes, image_processor=generic),
            f"processor: no image processor registered; using the generic {generic}")


def _model_special_tokens(classes: Any, tiny: dict[str, Any], procs: Any, override: Any) -> dict[str, str]:
    """Named special tokens the tokenizer must carry: those the config's out-of-vocabulary ids
    name, those the processor class reads from its tokenizer, then per-type data (later wins)."""
    from tinymodels.preprocess.special_tokens import config_special_tokens, processor_special_tokens

    tokens = config_special_tokens(tiny, len(procs.tokenizer))
    if classes.processor:
        tokens.update(processor_special_tokens(classes.processor))
    if override and override.special_tokens:
        tokens.update(override.special_tokens)
    return tokens


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


# Processor components per-type data may name or configure (`processor: {image_processor: ...}`).
_COMPONENTS = ("image_processor", "feature_extractor", "video_processor")


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


def build_processors(model_type: str, tiny: dict[str, Any], options: BuildOptions) -> tuple[Any, Any, int | None]:
    """Tokenizer + aligned config + processors. Returns (Processors, config, vocab_size)."""
    from tinymodels.build.metadata import (
        ensure_mask_token,
        ensure_pad_token,
        fill_pad_ids,
        set_model_max_length,
    )
    from tinymodels.build.speech import add_tokens as add_speech_tokens
    from tinymodels.build.speech import config_fields as speech_config_fields
    from tinymodels.build.speech import family_of, has_speech_tokens, table_tokens
    from tinymodels.config.discover import processor_classes
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.knowledge import override_for
    from tinymodels.preprocess.align import (
        align_with_processor,
        align_with_tokenizer,
        clamp_token_ids,
        text_configs,
        tokenizer_vocab_size,
    )
    from tinymodels.preprocess.feature_extractors import build_feature_extractor
    from tinymodels.preprocess.originals import open_source
    from tinymodels.preprocess.processors import (
        Processors,
        build_image_processor,
        build_processor,
        scale_image_grid,
    )
    from tinymodels.preprocess.special_tokens import (
        add_pad_token,
        add_plain_tokens,
        add_special_tokens,
        pads_by_default,
        processor_added_tokens,
    )
    from tinymodels.validate.chat import attach_template, format_for

    override = override_for(model_type)
    # The one place where the tokenizer/processor source (blank, or the original checkpoint's) is chosen.
    source = open_source(model_type, options)
    named, component_kwargs, processor_kwargs = split_processor_override(override.processor if override else {})
    classes = _declared_components(_with_home_components(model_type, _unregistered_processor(
        model_type, processor_classes(model_type))))
    if named:
        classes = dataclasses.replace(classes, **named)
    classes, borrowed = _related_image_processor(model_type, classes)
    procs = Processors()
    if borrowed:
        procs.warnings.append(borrowed)
    vocab: int | None = None
    chat = _chat_capable(model_type, classes.processor)
    tok_class = (override.tokenizer if override and override.tokenizer else None) or _needs_tokenizer(model_type, tiny) \
        or ("TokenizersBackend" if _processor_takes_tokenizer(classes.processor) else None)
    if tok_class:
        procs.tokenizer = _stage("tokenizer", source.tokenizer, tok_class, options.corpus, options.vocab_size)
        # The processor class is read inside the stages: a class whose library is missing
        # (MusicGen Melody's needs torchaudio) raises on attribute access, a missing dependency.
        _stage("tokenizer", lambda: add_special_tokens(procs.tokenizer,
                                                       _model_special_tokens(classes, tiny, procs, override)))
        if classes.processor and _stage("processor", pads_by_default, classes.processor):
            add_pad_token(procs.tokenizer)
        if classes.processor:
            _stage("tokenizer", lambda: add_plain_tokens(procs.tokenizer, processor_added_tokens(classes.processor)))
        if chat:
            # The family format's turn tokens, before the config's vocabulary follows the tokenizer.
            add_plain_tokens(procs.tokenizer, list(format_for(model_type).tokens))
        notes = [ensure_pad_token(procs.tokenizer)]
        if _has_head(model_type, "MODEL_FOR_MASKED_LM_MAPPING_NAMES"):
            notes.append(ensure_mask_token(procs.tokenizer))
        procs.warnings.extend(n for n in notes if n)
        family = family_of(model_type)
        # Tokens the family's generation tables name (SeamlessM4T's `__eng__`), as a checkpoint holds.
        add_plain_tokens(procs.tokenizer, table_tokens(family))
        if has_speech_tokens(family):
            # Last: the family's tokenizer takes every id after its last special token as a timestamp.
            add_speech_tokens(procs.tokenizer, family)
        fill_pad_ids(text_configs(tiny), procs.tokenizer)
        vocab = align_with_tokenizer(tiny, procs.tokenizer)
        if has_speech_tokens(family):
            tiny.update(speech_config_fields(procs.tokenizer))
    else:
        clamp_token_ids(tiny, options.vocab_size)
    image_size = override.image_size if override else None
    scale_image_grid(tiny, image_size)
    config = _stage("config", config_from_dict, model_type, tiny)
    if procs.tokenizer is not None:
        set_model_max_length(procs.tokenizer, config)
    if classes.image_processor:
        procs.image_processor = _stage("processor", build_image_processor, classes.image_processor, config, image_size,
                                       component_kwargs.get("image_processor"),
                                       source.settings("image_processor", classes.image_processor))
    if classes.video_processor:
        procs.video_processor = _stage("processor", build_image_processor, classes.video_processor, config, image_size,
                                       component_kwargs.get("video_processor"),
                                       source.settings("video_processor", classes.video_processor))
    if classes.feature_extractor:
        procs.feature_extractor = _stage("processor", build_feature_extractor, classes.feature_extractor, config,
                                         component_kwargs.get("feature_extractor"),
                                         source.settings("feature_extractor", classes.feature_extractor))
    if classes.processor:
        procs.processor = _stage("processor", build_processor, classes.processor, procs, config, processor_kwargs)
        if procs.tokenizer is not None and vocab is not None and tokenizer_vocab_size(procs.tokenizer) > vocab:
            # The processor added tokens of its own (Idefics3's <fake_token_around_image>…): the
            # config's vocabulary and token ids follow the grown tokenizer.
            vocab = align_with_tokenizer(tiny, procs.tokenizer)
            config = _stage("config", config_from_dict, model_type, tiny)
        align_with_processor(config, procs.processor)
    if chat and procs.tokenizer is not None:
        procs.chat_format = source.keep_template(procs) or attach_template(model_type, procs)
    procs.sources = source.record()
    procs.warnings.extend(source.warnings())
    return procs, config, vocab


def _has_head(model_type: str, mapping: str) -> bool:
    """Whether some architecture of the type is registered in the auto mapping `mapping`."""
    from tinymodels.config.discover import architecture_mappings

    return any(mapping in m for m in architecture_mappings(model_type).values())


def _chat_capable(model_type: str, processor_class: str | None) -> bool:
    """Whether some architecture of the type needs a chat template (`fidelity.chat.wants_template`)."""
    from tinymodels.config.discover import architecture_mappings
    from tinymodels.validate.chat import wants_template

    try:
        return any(wants_template(m, processor_class) for m in architecture_mappings(model_type).values())
    except ImportError:  # a processor class of a library that is not installed
        return False


def reload_processors(path: Path, original: Any) -> Any:
    """Load the saved processors back through the Auto classes (what users will do)."""
    from transformers import (
        AutoFeatureExtractor,
        AutoImageProcessor,
        AutoProcessor,
        AutoTokenizer,
        AutoVideoProcessor,
    )

    from tinymodels.preprocess.processors import Processors

    loaded = Processors()
    if original.processor is not None:
        loaded.processor = AutoProcessor.from_pretrained(path)
        return loaded
    if original.tokenizer is not None:
        loaded.tokenizer = AutoTokenizer.from_pretrained(path)
    if original.image_processor is not None:
        loaded.image_processor = AutoImageProcessor.from_pretrained(path)
    if original.video_processor is not None:
        loaded.video_processor = AutoVideoProcessor.from_pretrained(path)
    if original.feature_extractor is not None:
        loaded.feature_extractor = AutoFeatureExtractor.from_pretrained(path)
    return loaded


def build_architecture(arch: str, config: Any, procs_dir: Path, inputs: dict[str, Any], out_dir: Path,
                       mappings: tuple[str, ...], model_type: str, options: BuildOptions,
                       procs: Any = None, folder: str | None = None) -> dict[str, Any]:
    """Build, save, reload and validate one architecture into `out_dir/folder` (default: the
    architecture's name) at the selected levels (`procs`: the processors reloaded from
    `procs_dir`, which the levels use)."""
    from tinymodels.build.metadata import complete_generation_config
    from tinymodels.build.models import count_params, instantiate, reload, save, weights_bytes
    from tinymodels.build.speech import family_of, generation_fields
    from tinymodels.knowledge import override_for
    from tinymodels.validate.check import run_levels

    override = override_for(model_type)

    start = time.perf_counter()
    folder = folder or arch
    target = out_dir / folder
    model = _stage("instantiate", instantiate, arch, config, options.seed)
    params = count_params(model)
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(procs_dir, target)
    target.chmod(0o755)  # copied from a 0700 temporary directory
    tokenizer = None if procs is None else procs.text_tokenizer
    family = family_of(model_type)
    complete_generation_config(model, tokenizer, generation_fields(tokenizer, model.config, family) if family else {})
    _stage("save-reload", save, model, target)
    del model
    reloaded = _stage("save-reload", reload, arch, target, mappings)
    levels: dict[str, Any] = {}
    timings: dict[str, float] = {}
    try:
        _stage("forward", run_levels, reloaded, arch, target, inputs, mappings, procs, options.validate,
               options.seed, levels, override.skip_levels if override else {}, timings)
    except StageError as err:
        err.levels = levels
        raise
    return {
        "model": arch,
        "checkpoint": f"{model_type}/{folder}",
        "params": params,
        "bytes": weights_bytes(target),
        "levels": levels,
        "seconds": round(time.perf_counter() - start, 3),
        "level_seconds": {k: v for k, v in timings.items() if k in levels},
    }


def skipped_architectures(mappings: dict[str, Any], override: Any) -> dict[str, str]:
    """Architectures not to build, with why: not exported by transformers, or the type's
    `skip_architectures` data."""
    return {**_unexported_architectures(mappings), **(override.skip_architectures if override else {})}


def _unexported_architectures(mappings: dict[str, Any]) -> dict[str, str]:
    """Mapped architectures that transformers does not export (VoxtralRealtimeTextModel): the Auto
    classes look a mapped name up in the package, so no checkpoint of them can be loaded (an
    upstream limitation); each is reported as skipped with that reason."""
    import transformers

    return {arch: f"{arch} is named by an Auto mapping but not exported by transformers, so the Auto "
                  "classes cannot load a saved checkpoint of it (upstream limitation)"
            for arch in mappings if not hasattr(transformers, arch)}


def build_model_type(model_type: str, options: BuildOptions, out_dir: Path) -> tuple[str, dict[str, Any]]:
    """Build every architecture of `model_type` into `out_dir`; return (config class name, entry).

    A build from an original checkpoint that fails is redone from blank (`blank_rebuild.fall_back_to_blank`)."""
    from tinymodels.preprocess.blank_rebuild import fall_back_to_blank

    config_name, entry = _build_model_type(model_type, options, out_dir)
    return config_name, fall_back_to_blank(entry, options, out_dir,
                                           lambda opts, folder: _build_model_type(model_type, opts, folder)[1])


def _build_model_type(model_type: str, options: BuildOptions, out_dir: Path) -> tuple[str, dict[str, Any]]:
    from tinymodels.config.discover import COMPOSITES, architecture_mappings, config_class
    from tinymodels.config.upstream_config import tiny_config_for
    from tinymodels.knowledge import override_for

    if model_type in COMPOSITES:
        from tinymodels.build.composite import build_composite

        return build_composite(model_type, options, out_dir)
    start = time.perf_counter()
    config_name = config_class(model_type).__name__
    mappings = architecture_mappings(model_type)
    override = override_for(model_type)
    skip_arch = skipped_architectures(mappings, override)
    archs = [a for a in mappings if a not in options.skip]
    entry: dict[str, Any] = {"model_type": model_type, "processor": {}, "pytorch": {}}

    def finish() -> tuple[str, dict[str, Any]]:
        entry["seconds"] = round(time.perf_counter() - start, 3)
        return config_name, entry

    if nothing_to_build(entry, override, archs):
        return finish()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        tiny, entry["config_source"] = _stage("config", tiny_config_for, model_type, options)
        procs, config, vocab = build_processors(model_type, tiny, options)
    except StageError as err:
        entry["error"] = [f"[{err.stage}] {err}", err.trace]
        entry["pytorch"] = {a: _error(err) for a in archs}
        return finish()
    if vocab is not None:
        entry["vocab_size"] = vocab
    entry["processor"] = {n: n for n in procs.class_names()}
    entry.update(procs.sources)
    build_architectures(entry, model_type, archs, skip_arch, config, procs, options, out_dir, mappings)
    return finish()


def build_architectures(entry: dict[str, Any], model_type: str, archs: list[str], skip_arch: dict[str, str],
                        config: Any, procs: Any, options: BuildOptions, out_dir: Path,
                        mappings: dict[str, tuple[str, ...]], folder: Callable[[str], str] = str) -> None:
    """Save the processors once, reload them as users will, and build every architecture of
    `archs` into `out_dir/folder(arch)` at the selected levels, recording each in `entry`.

    Shared by plain model types and composites (whose folders are `Arch-enc-dec`)."""
    from tinymodels.build.metadata import undecodable_ids
    from tinymodels.knowledge import override_for
    from tinymodels.validate.forward import processor_inputs, type_placeholders

    override = override_for(model_type)
    if procs.warnings:
        entry.setdefault("warnings", []).extend(procs.warnings)
    if procs.chat_format:
        entry["chat_template"] = procs.chat_format
    tokenizer = procs.text_tokenizer
    undecodable = undecodable_ids(config, tokenizer) if tokenizer is not None else []
    if undecodable:
        entry.setdefault("warnings", []).append(f"metadata: token ids the tokenizer cannot decode: {', '.join(undecodable)}")
    fallback = getattr(procs.tokenizer, "tinymodels_fallback", None)
    if fallback:
        # The mapped tokenizer class could not be trained offline: say which one was used instead.
        entry.setdefault("warnings", []).append(f"tokenizer: {fallback}")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="tinymodels-procs-") as tmp:
        procs_dir = Path(tmp)
        try:
            # The config beside the processors, as in the checkpoint: some processors are loaded
            # from config.json (timm's image processor reads its `pretrained_cfg` there).
            _stage("processor", config.save_pretrained, procs_dir)
            _stage("processor", procs.save, procs_dir)
            loaded = _stage("processor", reload_processors, procs_dir, procs)
            text = override.inputs.get("text") if override else None
            call = override.inputs.get("call") if override else None
            inputs = _stage("processor", processor_inputs, loaded, text, call, type_placeholders(model_type))
        except StageError as err:
            entry["error"] = [f"[{err.stage}] {err}", err.trace]
            entry["pytorch"] = {a: _error(err) for a in archs}
            return
        for arch in archs:
            if arch in skip_arch:
                err = StageError("skipped", RuntimeError(skip_arch[arch]))
                err.category = "skipped"
                entry["pytorch"][arch] = _error(err)
                continue
            try:
                entry["pytorch"][arch] = build_architecture(arch, config, procs_dir, inputs, out_dir, mappings[arch],
                                                            model_type, options, loaded, folder(arch))
            except StageError as err:
                shutil.rmtree(out_dir / folder(arch), ignore_errors=True)
                entry["pytorch"][arch] = _error(err)
