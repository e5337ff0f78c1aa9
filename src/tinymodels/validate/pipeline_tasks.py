"""Which pipeline tasks serve an architecture: the task table of `resources/pipeline-tasks.yaml`
(`task_specs`), and the tasks whose auto class maps the architecture and whose inputs the
checkpoint can read (`tasks_for`), with the tasks upstream cannot drive (`upstream_skips`)."""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass, field
from typing import Any

from tinymodels.preprocess.processors import Processors
from tinymodels.validate.inputs import forward_parameters
from tinymodels.validate.pipeline_samples import SAMPLES

COMPONENTS = ("tokenizer", "image_processor", "feature_extractor", "video_processor", "processor")


@dataclass(frozen=True)
class TaskSpec:
    """How one pipeline task is exercised (see `resources/pipeline-tasks.yaml`)."""

    name: str
    needs: tuple[str, ...] = ()
    without: tuple[str, ...] = ()
    auto_classes: tuple[str, ...] = ()
    not_encoder_decoder: bool = False
    # Methods the model must define (a zero-shot audio classifier compares audio and text features).
    methods: tuple[str, ...] = ()
    # The forward arguments the pipeline passes: a model whose forward requires others (a vision
    # tower fed flattened patches and a grid by its parent) is not served by the task.
    provides: tuple[str, ...] = ()
    # Forward parameters the model must name: the task's main input (a model reading other
    # inputs, such as a decision transformer's states, is not served by a text task).
    takes: tuple[str, ...] = ()
    # The pipeline reads the first output as one tensor: a backbone's first output is its tuple
    # of feature maps.
    not_backbone: bool = False
    # The pipeline generates only for generative heads and answers from logits otherwise
    # (document QA: Donut generates, LayoutLM extracts), so a model that cannot generate is served.
    extractive: bool = False
    input: str = ""
    batch: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Passed only when the pipeline's model generates (forward-only text-to-audio models refuse them).
    generate_kwargs: dict[str, Any] = field(default_factory=dict)
    skip: str = ""
    # Sample kinds used instead of input/batch for a model that is no chat model but whose
    # processor carries a chat template: it renders its prompts only through it (Pocket TTS).
    chat_input: str = ""
    chat_batch: str = ""
    # Passed with chat_input/chat_batch.
    chat_kwargs: dict[str, Any] = field(default_factory=dict)
    # Sample kinds used instead of input/batch when the pipeline's processor reads audio and no
    # images (an audio LLM: image prompts would leave it without the audio its generate needs).
    audio_input: str = ""
    audio_batch: str = ""
    # The model's `main_input_name` -> why the task cannot drive such a model (reported as skipped).
    skip_main_input: dict[str, str] = field(default_factory=dict)
    # The two examples go through at this batch size (a pipeline that cannot collate runs them one by one).
    batch_size: int = 2


@functools.cache
def task_specs() -> dict[str, TaskSpec]:
    """The task table, validated: known sample kinds, a skip reason or inputs (known fields are
    the schema's job, checked when the file loads)."""
    from tinymodels.knowledge import load_resource

    out = {}
    for name, raw in (load_resource("pipeline-tasks.yaml").get("tasks") or {}).items():
        spec = TaskSpec(name=name, needs=tuple(raw.get("needs") or ()), without=tuple(raw.get("without") or ()),
                        auto_classes=tuple(raw.get("auto_classes") or ()),
                        not_encoder_decoder=bool(raw.get("not_encoder_decoder")),
                        methods=tuple(raw.get("methods") or ()), provides=tuple(raw.get("provides") or ()),
                        takes=tuple(raw.get("takes") or ()), not_backbone=bool(raw.get("not_backbone")),
                        extractive=bool(raw.get("extractive")),
                        input=raw.get("input", ""),
                        batch=raw.get("batch", ""), kwargs=dict(raw.get("kwargs") or {}),
                        generate_kwargs=dict(raw.get("generate_kwargs") or {}),
                        skip=" ".join(str(raw.get("skip") or "").split()), batch_size=int(raw.get("batch_size", 2)),
                        chat_input=raw.get("chat_input", ""), chat_batch=raw.get("chat_batch", ""),
                        chat_kwargs=dict(raw.get("chat_kwargs") or {}),
                        audio_input=raw.get("audio_input", ""), audio_batch=raw.get("audio_batch", ""),
                        skip_main_input={k: " ".join(str(v).split()) for k, v in (raw.get("skip_main_input") or {}).items()})
        if not spec.skip and (spec.input not in SAMPLES or spec.batch not in SAMPLES):
            raise ValueError(f"pipeline-tasks.yaml: {name}: input/batch must be sample kinds of {sorted(SAMPLES)}")
        for first, second in ((spec.chat_input, spec.chat_batch), (spec.audio_input, spec.audio_batch)):
            if bool(first) != bool(second) or {first, second} - {""} - set(SAMPLES):
                raise ValueError(f"pipeline-tasks.yaml: {name}: chat_/audio_ input and batch must both be sample kinds")
        if (spec.auto_classes or spec.batch_size != 2 or spec.chat_kwargs) and not str(raw.get("reason", "")).strip():
            raise ValueError(f"pipeline-tasks.yaml: {name}: auto_classes, batch_size and chat_kwargs need a reason")
        out[name] = spec
    return out


def components(procs: Processors) -> set[str]:
    """The processor components a checkpoint folder holds (a ProcessorMixin's parts included)."""
    have = {name for name in COMPONENTS if getattr(procs, name, None) is not None}
    if procs.processor is not None:
        have |= {a for a in procs.processor.get_attributes() if getattr(procs.processor, a, None) is not None}
        if "audio_processor" in have:
            have.add("feature_extractor")
    return have


def tasks_for(arch: str, mappings: tuple[str, ...], procs: Processors, model: Any) -> dict[str, TaskSpec]:
    """The pipeline tasks that apply to the architecture, by name."""
    from transformers.pipelines import SUPPORTED_TASKS

    from tinymodels.config.discover import auto_class_name
    from tinymodels.validate.forward import _generate_only, generates_alone

    autos = set()
    for mapping in mappings:
        try:
            autos.add(auto_class_name(mapping))
        except LookupError:
            continue
    have = components(procs)
    specs = task_specs()
    alone = generates_alone(model)
    only_generates = _generate_only(model)
    out = {}
    for task, info in SUPPORTED_TASKS.items():
        spec = specs.get(task)
        task_autos = {c.__name__ for c in info.get("pt", ())}
        if spec is None or not autos & task_autos:
            continue
        calls_generate = _calls_generate(info.get("impl"))
        if not alone and calls_generate:
            # A head that generates only as another model's `assistant_model` (a speculative
            # draft, by the type's `inputs.generate` data) serves no pipeline that generates.
            continue
        if only_generates and not calls_generate:
            # No forward of its own (Bark chains sub-models in `generate`): nothing to extract.
            continue
        if spec.auto_classes and not autos & set(spec.auto_classes):
            continue
        if not set(spec.needs) <= have or set(spec.without) & have:
            continue
        if spec.not_encoder_decoder and getattr(model.config, "is_encoder_decoder", False):
            continue
        if not all(callable(getattr(model, m, None)) for m in spec.methods):
            continue
        if not set(spec.takes) <= forward_parameters(model):
            continue
        if spec.not_backbone and _is_backbone(model):
            continue
        if spec.provides and not (required_inputs(model) <= set(spec.provides) and _pixels_fit(model, procs)):
            continue
        if not spec.extractive and _calls_generate(info.get("impl")) and not _can_generate(model):
            # Mapped to a generative task's auto class, but the model cannot generate (PI0, a robot
            # policy in AutoModelForMultimodalLM, samples actions): the pipeline cannot drive it.
            spec = dataclasses.replace(spec, skip=f"{type(model).__name__} cannot generate, and the {task} "
                                                  "pipeline only generates (upstream)")
        out[task] = spec
    return out


def _calls_generate(impl: Any) -> bool:
    """Whether a pipeline class (or its dotted name, as `SUPPORTED_TASKS` lists it) generates."""
    import importlib

    if isinstance(impl, str):
        module, _, name = impl.rpartition(".")
        impl = getattr(importlib.import_module(module), name, None)
    return bool(getattr(impl, "_pipeline_calls_generate", False))


def _can_generate(model: Any) -> bool:
    can = getattr(model, "can_generate", None)
    return bool(can()) if callable(can) else False


def _pixels_fit(model: Any, procs: Processors) -> bool:
    """Whether the image processor's pixels have the rank the model unpacks (a VLM's processor
    batches crops as 5-D tensors its vision tower only takes flattened by the parent model)."""
    from tinymodels.preprocess.samples import sample_image
    from tinymodels.validate.inputs import pixel_rank

    if procs.image_processor is None:
        return True
    rank = pixel_rank(model)
    if rank is None:
        return True
    try:
        pixels = procs.image_processor(sample_image(), return_tensors="pt").get("pixel_values")
    except Exception:  # noqa: BLE001 - a processor that cannot run alone serves no pipeline either
        return False
    return getattr(pixels, "dim", lambda: rank)() == rank


def _is_backbone(model: Any) -> bool:
    """Whether the model is a transformers backbone (it returns feature maps, not hidden states)."""
    try:
        from transformers.backbone_utils import BackboneMixin
    except ImportError:  # older transformers
        from transformers.utils.backbone_utils import BackboneMixin
    return isinstance(model, BackboneMixin)


def upstream_skips(model: Any, tasks: dict[str, TaskSpec]) -> dict[str, str]:
    """{task: reason} for tasks that cannot drive the model by its `main_input_name`
    (`skip_main_input`: the speech-recognition pipeline passes features as an audio LLM's `input_ids`)."""
    name = getattr(model, "main_input_name", "")
    return {t: spec.skip_main_input[name] for t, spec in tasks.items() if name in spec.skip_main_input}


def required_inputs(model: Any) -> set[str]:
    """The `forward` parameters without a default (what every call must pass)."""
    import inspect

    params = inspect.signature(model.forward).parameters.values()
    return {p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
