"""Sample inputs of the `pipeline` level: for each sample kind that `resources/pipeline-tasks.yaml`
names (`input`, `batch`…), the (positional, keyword) arguments of a pipeline call, made with the
pipeline's own tokenizer and processor (`SAMPLES`); prompt-and-image calls in the form the
pipeline's processor accepts (`prompt_calls`)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

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
from tinymodels.validate.inputs import (
    forward_parameters,
    processor_switches,
    prompt_placeholder,
    type_placeholders,
)


@dataclass
class _Context:
    """What sample makers may read: the pipeline's tokenizer and processor."""

    pipe: Any

    @property
    def tokenizer(self) -> Any:
        return getattr(self.pipe, "tokenizer", None) or getattr(getattr(self.pipe, "processor", None), "tokenizer", None)

    def placeholder(self, modality: str) -> str:
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
    - processor kwargs: the switches the model needs (`inputs.processor_switches`), the other
      `inputs.call` arguments, and `return_token_type_ids=False` when the processor returns token
      types the model's forward does not read (`generate` refuses unused inputs: GIT).

    When no form is accepted the first is used, so the pipeline reports the processor's error."""

    from tinymodels.preprocess.samples import CALL_SAMPLES

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
