"""The `pipeline` level: `transformers.pipeline(task, model=<folder>)` as users call it.

Every task whose auto class maps the architecture (transformers' `SUPPORTED_TASKS`) and whose
inputs the checkpoint can read (`resources/pipeline-tasks.yaml`) runs on a standard sample of the
task: a batch of 1, then a batch of 2 of different lengths at `batch_size=2`, which needs padding.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tinymodels.preprocess.processors import Processors
from tinymodels.preprocess.samples import (
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
from tinymodels.validate.levels import FAILED, OK, LevelError

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
    from tinymodels.validate.forward import _generate_only, _generates_alone

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


def staged_budget(model: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` for the model's `generate`, a bare `max_new_tokens` given to the first stage of a
    generate that routes `<stage>_` arguments to chained sub-models (Bark's `semantic_`: later
    stages set their own lengths, and a bare one collides with them)."""
    from tinymodels.validate.forward import generation_stages

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


def _can_generate(model: Any) -> bool:
    can = getattr(model, "can_generate", None)
    return bool(can()) if callable(can) else False


def _pixels_fit(model: Any, procs: Processors) -> bool:
    """Whether the image processor's pixels have the rank the model unpacks (a VLM's processor
    batches crops as 5-D tensors its vision tower only takes flattened by the parent model)."""
    from tinymodels.preprocess.samples import sample_image
    from tinymodels.validate.forward import _pixel_rank

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


def forward_parameters(model: Any) -> set[str]:
    """The names of the model's `forward` parameters (`**kwargs` names none)."""
    import inspect

    params = inspect.signature(model.forward).parameters.values()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}


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


@dataclass
class _Context:
    """What sample makers may read: the pipeline's tokenizer and processor."""

    pipe: Any

    @property
    def tokenizer(self) -> Any:
        return getattr(self.pipe, "tokenizer", None) or getattr(getattr(self.pipe, "processor", None), "tokenizer", None)

    def placeholder(self, modality: str) -> str:
        from tinymodels.validate.forward import prompt_placeholder

        processor = getattr(self.pipe, "processor", None)
        return prompt_placeholder(processor, modality) if processor is not None else ""

    def rate(self) -> int:
        processor = getattr(self.pipe, "processor", None)
        extractors = (getattr(self.pipe, "feature_extractor", None), getattr(processor, "feature_extractor", None),
                      getattr(processor, "audio_processor", None))
        return int(next((r for fe in extractors if (r := getattr(fe, "sampling_rate", None))), SAMPLING_RATE))

    def chat_template(self) -> str | None:
        """The template the pipeline renders conversations with (the processor's, else its tokenizer's)."""
        processor = getattr(self.pipe, "processor", None)
        return getattr(processor, "chat_template", None) or getattr(self.tokenizer, "chat_template", None)

    @functools.cached_property
    def prompted(self) -> tuple[Call, Call]:
        """The (batch of 1, batch of 2) calls of a prompt-and-image task (see `prompt_calls`)."""
        return prompt_calls(self.pipe)


def _pil_frames(frames: Any) -> list[Any]:
    """Video frames as PIL images: the image pipelines load their `images` as PIL images only."""
    from PIL import Image

    return [Image.fromarray(f) if not isinstance(f, Image.Image) else f for f in frames]


def _type_inputs(model: Any) -> tuple[str | None, dict[str, Any]]:
    """The type's `inputs.text` prompt template and `inputs.call` arguments (overrides)."""
    from tinymodels.knowledge import override_for

    override = override_for(getattr(model.config, "model_type", "") or "")
    if not override:
        return None, {}
    return override.inputs.get("text"), dict(override.inputs.get("call") or {})


def _prompt_forms(processor: Any, template: str | None,
                  placeholders: dict[str, str] | None = None) -> list[tuple[str, list[str]]]:
    """Candidate (prompt, two batch prompts of different lengths), in the order tried: the type's
    own `inputs.text` template alone, else the image placeholder followed by the text (what most
    processors count and expand), then the bare text (processors that insert the image tokens
    themselves refuse a placeholder: Florence-2, Fuyu)."""
    from tinymodels.validate.forward import prompt_placeholder

    marks = {**{m: prompt_placeholder(processor, m) for m in ("image", "video", "audio")}, **(placeholders or {})}
    if template is not None:
        prompt = template.format(**marks)
        return [(prompt, [prompt, f"{prompt} {SHORT_TEXT}"])]
    mark = marks["image"]
    forms = [(mark + SAMPLE_TEXT, [mark + SHORT_TEXT, mark + SAMPLE_TEXT])]
    if mark:
        forms.append((SAMPLE_TEXT, [SHORT_TEXT, SAMPLE_TEXT]))
    return forms


def _accepts(processor: Any, **kwargs: Any) -> dict[str, Any] | None:
    """The processor's output for `kwargs` as the pipeline calls it, or None if it refuses them."""
    try:
        return dict(processor(**kwargs, return_tensors="pt"))
    except Exception:  # noqa: BLE001 - a refused form: the next one is tried
        return None


def prompt_calls(pipe: Any) -> tuple[Call, Call]:
    """The (batch of 1, batch of 2) calls of a prompt-and-image pipeline (image-text-to-text,
    any-to-any), in the first form the pipeline's processor accepts when called directly:

    - the prompt (`_prompt_forms`: the type's `inputs.text`, else with, then without placeholder);
    - the images: the type's `inputs.call` `images` sample (video frames as PIL images for a
      processor that reads a clip from `images`) or the sample image; for the batch one list of
      images per prompt, else a flat list (processors that refuse nested lists: GOT-OCR 2);
    - processor kwargs: the switches the model needs (`validate.processor_switches`), the other
      `inputs.call` arguments, and `return_token_type_ids=False` when the processor returns token
      types the model's forward does not read (`generate` refuses unused inputs: GIT).

    When no form is accepted the first is used, so the pipeline reports the processor's error."""

    from tinymodels.preprocess.samples import CALL_SAMPLES
    from tinymodels.validate.forward import processor_switches, type_placeholders

    processor, model = pipe.processor, pipe.model
    template, call = _type_inputs(model)
    extra = {k: CALL_SAMPLES[v]() for k, v in call.items() if v is not None and k not in ("text", "images")}
    image_kind = call.get("images")

    def image() -> Any:
        if image_kind is None:
            return sample_image()
        made = CALL_SAMPLES[image_kind]()
        return _pil_frames(made) if image_kind == "video" else made

    switches = {**processor_switches(processor, model), **extra}
    forms = _prompt_forms(processor, template, type_placeholders(getattr(model.config, "model_type", "") or ""))
    single = next((f for f in forms if _accepts(processor, text=f[0], images=image(), **switches) is not None),
                  forms[0])
    if image_kind:
        # A clip read from `images` is one prompt's list of frames already.
        pair = [image(), image()]
        batches = [pair] if isinstance(pair[0], list) else [[[i] for i in pair], pair]
    else:
        batches = [[[i] for i in sample_image_pair()], sample_image_pair()]
    images = next((b for b in batches if _accepts(processor, text=single[1], images=b, padding=True, **switches)
                   is not None), batches[0])
    out = _accepts(processor, text=single[0], images=image(), **switches) or {}
    if "token_type_ids" in out and "token_type_ids" not in forward_parameters(model):
        switches["return_token_type_ids"] = False
    kwargs = {"processor_kwargs": switches} if switches else {}
    # `inputs.call` arguments made as a batch of one (Evolla's proteins and chats) are given once per
    # prompt of the batch: the processor's batch follows them, not the pipeline's prompts.
    batch_switches = {k: v * 2 if isinstance(v, list) and len(v) == 1 and k in extra else v for k, v in switches.items()}
    batch_kwargs = {"processor_kwargs": batch_switches} if batch_switches else {}
    return ((), {"images": image(), "text": single[0], **kwargs}), ((), {"images": images, "text": single[1], **batch_kwargs})


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


def _conversation(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": text}]}]


def _audio_prompts(ctx: _Context, items: list[tuple[float, str]], single: bool = False) -> tuple[Any, ...]:
    """Audio with a prompt each: conversations with an audio item when the processor renders
    them (a template of its own, or its own `apply_chat_template` over the tokenizer's: Voxtral's
    refuses raw prompts holding its audio placeholder), else the audio placeholder written before
    the text (Kyutai's processor loads without a template)."""
    audios = [sample_audio(seconds=seconds, sampling_rate=ctx.rate()) for seconds, _ in items]
    processor = getattr(ctx.pipe, "processor", None)
    renders = getattr(processor, "chat_template", None) or (
        ctx.chat_template() and "apply_chat_template" in vars(type(processor)))
    if renders:
        chats = [[{"role": "user", "content": [{"type": "audio", "audio": audio}, {"type": "text", "text": text}]}]
                 for audio, (_, text) in zip(audios, items, strict=True)]
        return (), {"text": chats[0] if single else chats}
    texts = [ctx.placeholder("audio") + text for _, text in items]
    return (), {"audio": audios[0], "text": texts[0]} if single else {"audio": audios, "text": texts}


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
    # A prompt with an image, in the form the processor accepts (`prompt_calls`).
    "image_prompt": lambda ctx: ctx.prompted[0],
    # One list of images per prompt where accepted: a flat list would give every prompt both images.
    "image_prompts": lambda ctx: ctx.prompted[1],
    "audio_prompt": lambda ctx: _audio_prompts(ctx, [(1.0, SAMPLE_TEXT)], single=True),
    # Clips of one length (as images of one size): processors' chat paths stack the clips unpadded
    # (OmniASR, VibeVoice-ASR); the prompts still differ in length.
    "audio_prompts": lambda ctx: _audio_prompts(ctx, [(1.0, SHORT_TEXT), (1.0, SAMPLE_TEXT)]),
    "document": lambda ctx: ((_document(),), {}),
    "documents": lambda ctx: (([_document(), {**_document(), "question": "Hello?"}],), {}),
    "audio": lambda ctx: ((sample_audio(sampling_rate=ctx.rate()),), {}),
    "audios": lambda ctx: (([sample_audio(seconds=0.6, sampling_rate=ctx.rate()),
                             sample_audio(sampling_rate=ctx.rate())],), {}),
    "conversation": lambda ctx: ((_conversation(SAMPLE_TEXT),), {}),
    "conversations": lambda ctx: (([_conversation(SHORT_TEXT), _conversation(SAMPLE_TEXT)],), {}),
    "decision": lambda ctx: ((_decision(),), {}),
    "decisions": lambda ctx: (([_decision(), {**_decision(), "state": SHORT_TEXT}],), {}),
}


def _check(result: Any, expected: int | None, task: str) -> None:
    # An empty list is an answer (a random detector may find no box); None is not.
    if result is None:
        raise ValueError(f"{task} returned nothing")
    if expected is not None and (not isinstance(result, list) or len(result) != expected):
        raise ValueError(f"{task}: {expected} inputs gave {len(result) if isinstance(result, list) else 1} outputs")


def run_task(folder: Path, spec: TaskSpec, chat: bool = False) -> None:
    """Load the checkpoint through `transformers.pipeline` and run the task on 1 and 2 inputs
    (`chat`: the model is a chat model, see `TaskSpec.chat_input`)."""
    import torch
    from transformers import pipeline

    from tinymodels.build.speech import family_of

    pipe = pipeline(spec.name, model=str(folder), device="cpu")
    ctx = _Context(pipe)
    extra = dict(spec.kwargs)
    if pipe.model.can_generate():
        # Arguments the family's generate requires from users (SeamlessM4T's `tgt_lang`).
        required = (family_of(pipe.model.config.model_type) or {}).get("generate_kwargs") or {}
        if spec.generate_kwargs or required:
            extra["generate_kwargs"] = staged_budget(pipe.model, {**spec.generate_kwargs, **required})
    single, batch = spec.input, spec.batch
    processor = getattr(pipe, "processor", None)
    if spec.chat_input and not chat and getattr(processor, "chat_template", None):
        single, batch = spec.chat_input, spec.chat_batch
        extra.update(spec.chat_kwargs)
    parts = _processor_parts(processor)
    if spec.audio_input and "feature_extractor" in parts and "image_processor" not in parts:
        single, batch = spec.audio_input, spec.audio_batch
    args, kwargs = SAMPLES[single](ctx)
    with torch.no_grad():
        _check(pipe(*args, **kwargs, **extra), None, spec.name)
        args, kwargs = SAMPLES[batch](ctx)
        _check(pipe(*args, **kwargs, **extra, batch_size=spec.batch_size), 2, spec.name)


def _processor_parts(processor: Any) -> set[str]:
    """The components a pipeline's processor holds (`feature_extractor`, `image_processor`…)."""
    if processor is None:
        return set()
    have = {a for a in processor.get_attributes() if getattr(processor, a, None) is not None}
    return have | ({"feature_extractor"} if "audio_processor" in have else set())


def run_pipelines(folder: Path, tasks: dict[str, TaskSpec], skips: dict[str, str],
                  done: dict[str, str] | None = None, chat: bool = False) -> dict[str, str]:
    """Run every applicable task; fills and returns `done` ({task: "ok" | "skipped: reason"});
    raises LevelError naming the first task that fails (`done` then holds those before it).
    `chat`: the architecture is a chat model."""
    done = {} if done is None else done
    for task, spec in sorted(tasks.items()):
        reason = spec.skip or skips.get(task, "")
        if reason:
            done[task] = f"skipped: {reason}"
            continue
        try:
            run_task(folder, spec, chat)
        except Exception as exc:
            done[task] = FAILED
            raise LevelError("pipeline", exc, detail=task) from exc
        done[task] = OK
    return done
