"""The `pipeline` level: `transformers.pipeline(task, model=<folder>)` as users call it.

Every task whose auto class maps the architecture (transformers' `SUPPORTED_TASKS`) and whose
inputs the checkpoint can read (`resources/pipeline-tasks.yaml`) runs on a standard sample of the
task: a batch of 1, then a batch of 2 of different lengths at `batch_size=2`, which needs padding.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinymodels.fidelity.levels import FAILED, OK, LevelError
from tinymodels.processors import Processors
from tinymodels.samples import (
    SAMPLE_QUESTION,
    SAMPLE_TEXT,
    SAMPLING_RATE,
    SHORT_TEXT,
    sample_audio,
    sample_image,
    sample_image_pair,
    sample_word_boxes,
    sample_words,
)

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
    input: str = ""
    batch: str = ""
    kwargs: dict[str, Any] = field(default_factory=dict)
    # Passed only when the pipeline's model generates (forward-only text-to-audio models refuse them).
    generate_kwargs: dict[str, Any] = field(default_factory=dict)
    skip: str = ""
    # The two examples go through at this batch size (a pipeline that cannot collate runs them one by one).
    batch_size: int = 2


_SPEC_FIELDS = {"needs", "without", "auto_classes", "not_encoder_decoder", "methods", "provides", "input", "batch", "batch_size", "kwargs",
                "generate_kwargs",
                "skip", "reason"}


@functools.cache
def task_specs() -> dict[str, TaskSpec]:
    """The task table, validated: known fields, known sample kinds, a skip reason or inputs."""
    from tinymodels.knowledge import load_resource

    out = {}
    for name, raw in (load_resource("pipeline-tasks.yaml").get("tasks") or {}).items():
        unknown = set(raw) - _SPEC_FIELDS
        if unknown:
            raise ValueError(f"pipeline-tasks.yaml: {name}: unknown field(s) {sorted(unknown)}")
        spec = TaskSpec(name=name, needs=tuple(raw.get("needs") or ()), without=tuple(raw.get("without") or ()),
                        auto_classes=tuple(raw.get("auto_classes") or ()),
                        not_encoder_decoder=bool(raw.get("not_encoder_decoder")),
                        methods=tuple(raw.get("methods") or ()), provides=tuple(raw.get("provides") or ()),
                        input=raw.get("input", ""),
                        batch=raw.get("batch", ""), kwargs=dict(raw.get("kwargs") or {}),
                        generate_kwargs=dict(raw.get("generate_kwargs") or {}),
                        skip=" ".join(str(raw.get("skip") or "").split()), batch_size=int(raw.get("batch_size", 2)))
        if not spec.skip and (spec.input not in SAMPLES or spec.batch not in SAMPLES):
            raise ValueError(f"pipeline-tasks.yaml: {name}: input/batch must be sample kinds of {sorted(SAMPLES)}")
        if (spec.auto_classes or spec.batch_size != 2) and not str(raw.get("reason", "")).strip():
            raise ValueError(f"pipeline-tasks.yaml: {name}: auto_classes and batch_size need a reason")
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

    from tinymodels.discover import auto_class_name
    from tinymodels.validate import _generate_only, _generates_alone

    autos = set()
    for mapping in mappings:
        try:
            autos.add(auto_class_name(mapping))
        except LookupError:
            continue
    have = components(procs)
    specs = task_specs()
    alone = _generates_alone(model)
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
        if spec.provides and not (required_inputs(model) <= set(spec.provides) and _pixels_fit(model, procs)):
            continue
        out[task] = spec
    return out


def staged_budget(model: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` for the model's `generate`, a bare `max_new_tokens` given to the first stage of a
    generate that routes `<stage>_` arguments to chained sub-models (Bark's `semantic_`: later
    stages set their own lengths, and a bare one collides with them)."""
    from tinymodels.validate import generation_stages

    stages = generation_stages(model)
    if not stages or "max_new_tokens" not in kwargs:
        return kwargs
    out = {k: v for k, v in kwargs.items() if k != "max_new_tokens"}
    return {**out, f"{stages[0]}max_new_tokens": kwargs["max_new_tokens"]}


def _calls_generate(impl: Any) -> bool:
    """Whether a pipeline class (or its dotted name, as `SUPPORTED_TASKS` lists it) generates."""
    import importlib

    if isinstance(impl, str):
        module, _, name = impl.rpartition(".")
        impl = getattr(importlib.import_module(module), name, None)
    return bool(getattr(impl, "_pipeline_calls_generate", False))


def _pixels_fit(model: Any, procs: Processors) -> bool:
    """Whether the image processor's pixels have the rank the model unpacks (a VLM's processor
    batches crops as 5-D tensors its vision tower only takes flattened by the parent model)."""
    from tinymodels.samples import sample_image
    from tinymodels.validate import _pixel_rank

    if procs.image_processor is None:
        return True
    rank = _pixel_rank(model)
    if rank is None:
        return True
    try:
        pixels = procs.image_processor(sample_image(), return_tensors="pt").get("pixel_values")
    except Exception:  # noqa: BLE001 - a processor that cannot run alone serves no pipeline either
        return False
    return getattr(pixels, "dim", lambda: rank)() == rank


def required_inputs(model: Any) -> set[str]:
    """The `forward` parameters without a default (what every call must pass)."""
    import inspect

    params = inspect.signature(model.forward).parameters.values()
    return {p.name for p in params if p.default is p.empty and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


@dataclass
class _Context:
    """What sample makers may read: the pipeline's tokenizer and processor."""

    pipe: Any

    @property
    def tokenizer(self) -> Any:
        return getattr(self.pipe, "tokenizer", None) or getattr(getattr(self.pipe, "processor", None), "tokenizer", None)

    def placeholder(self, modality: str) -> str:
        from tinymodels.validate import prompt_placeholder

        processor = getattr(self.pipe, "processor", None)
        return prompt_placeholder(processor, modality) if processor is not None else ""

    def rate(self) -> int:
        fe = getattr(self.pipe, "feature_extractor", None)
        return int(getattr(fe, "sampling_rate", None) or SAMPLING_RATE)


def _masked(ctx: _Context, text: str) -> str:
    mask = getattr(ctx.tokenizer, "mask_token", None)
    if not mask:
        raise ValueError("the tokenizer has no mask token, which fill-mask needs")
    return f"{text} {mask}."


def _table() -> dict[str, list[str]]:
    return {"city": ["Paris", "Rome"], "people": ["2", "3"]}


def _document() -> dict[str, Any]:
    words = sample_words()
    return {"image": sample_image(), "question": SAMPLE_QUESTION,
            "word_boxes": [(w, b) for w, b in zip(words, sample_word_boxes(), strict=True)]}


def _decision() -> dict[str, Any]:
    return {"state": SAMPLE_TEXT, "questions": {"polite": {"type": "noul", "instructions": "Is it polite?"}}}


# Sample kind -> maker of (positional arguments, keyword arguments) for a pipeline call.
Call = tuple[tuple[Any, ...], dict[str, Any]]
SAMPLES: dict[str, Callable[[_Context], Call]] = {
    "text": lambda ctx: ((SAMPLE_TEXT,), {}),
    "texts": lambda ctx: (([SHORT_TEXT, SAMPLE_TEXT],), {}),
    "masked_text": lambda ctx: ((_masked(ctx, SAMPLE_TEXT),), {}),
    "masked_texts": lambda ctx: (([_masked(ctx, SHORT_TEXT), _masked(ctx, SAMPLE_TEXT)],), {}),
    "table_query": lambda ctx: (({"table": _table(), "query": "How many people?"},), {}),
    "table_queries": lambda ctx: (([{"table": _table(), "query": "How many?"},
                                    {"table": _table(), "query": "How many people live in Rome?"}],), {}),
    "image": lambda ctx: ((sample_image(),), {}),
    # Two images of one size: image batches need no padding, and models without a resize (depth,
    # super-resolution) cannot stack different sizes.
    "images": lambda ctx: ((sample_image_pair(),), {}),
    "image_pair": lambda ctx: (([sample_image(64), sample_image(48)],), {}),
    "image_pairs": lambda ctx: (([[sample_image(64), sample_image(48)], [sample_image(48), sample_image(64)]],), {}),
    "image_prompt": lambda ctx: ((), {"images": sample_image(), "text": ctx.placeholder("image") + SAMPLE_TEXT}),
    # One list of images per prompt: a flat list would give every prompt both images.
    "image_prompts": lambda ctx: ((), {"images": [[image] for image in sample_image_pair()],
                                       "text": [ctx.placeholder("image") + SHORT_TEXT,
                                                ctx.placeholder("image") + SAMPLE_TEXT]}),
    "document": lambda ctx: ((_document(),), {}),
    "documents": lambda ctx: (([_document(), {**_document(), "question": "Hello?"}],), {}),
    "audio": lambda ctx: ((sample_audio(sampling_rate=ctx.rate()),), {}),
    "audios": lambda ctx: (([sample_audio(seconds=0.6, sampling_rate=ctx.rate()),
                             sample_audio(sampling_rate=ctx.rate())],), {}),
    "decision": lambda ctx: ((_decision(),), {}),
    "decisions": lambda ctx: (([_decision(), {**_decision(), "state": SHORT_TEXT}],), {}),
}


def _check(result: Any, expected: int | None, task: str) -> None:
    # An empty list is an answer (a random detector may find no box); None is not.
    if result is None:
        raise ValueError(f"{task} returned nothing")
    if expected is not None and (not isinstance(result, list) or len(result) != expected):
        raise ValueError(f"{task}: {expected} inputs gave {len(result) if isinstance(result, list) else 1} outputs")


def run_task(folder: Path, spec: TaskSpec) -> None:
    """Load the checkpoint through `transformers.pipeline` and run the task on 1 and 2 inputs."""
    import torch
    from transformers import pipeline

    pipe = pipeline(spec.name, model=str(folder), device="cpu")
    ctx = _Context(pipe)
    extra = dict(spec.kwargs)
    if spec.generate_kwargs and pipe.model.can_generate():
        extra["generate_kwargs"] = staged_budget(pipe.model, spec.generate_kwargs)
    args, kwargs = SAMPLES[spec.input](ctx)
    with torch.no_grad():
        _check(pipe(*args, **kwargs, **extra), None, spec.name)
        args, kwargs = SAMPLES[spec.batch](ctx)
        _check(pipe(*args, **kwargs, **extra, batch_size=spec.batch_size), 2, spec.name)


def run_pipelines(folder: Path, tasks: dict[str, TaskSpec], skips: dict[str, str],
                  done: dict[str, str] | None = None) -> dict[str, str]:
    """Run every applicable task; fills and returns `done` ({task: "ok" | "skipped: reason"});
    raises LevelError naming the first task that fails (`done` then holds those before it)."""
    done = {} if done is None else done
    for task, spec in sorted(tasks.items()):
        reason = spec.skip or skips.get(task, "")
        if reason:
            done[task] = f"skipped: {reason}"
            continue
        try:
            run_task(folder, spec)
        except Exception as exc:
            done[task] = FAILED
            raise LevelError("pipeline", exc, detail=task) from exc
        done[task] = OK
    return done
