"""Chat templates for chat-capable models, and the `chat` level that uses them as users do.

A model type is chat-capable when one of its architectures is a generative text head (causal LM,
seq2seq LM, image-text-to-text, multimodal LM, vision-to-sequence) or an audio LM (a speech
seq2seq head whose processor has an audio placeholder), and it has a tokenizer. Its template
is the family format of `resources/chat.yaml` whose `match` pattern fits the type, else the
generic one; media items render the processor's own prompt placeholders. The template is saved
with the tokenizer and the processor, where transformers reads it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from tinymodels.preprocess.samples import SAMPLE_TEXT, sample_audio, sample_image, sample_video
from tinymodels.validate.levels import LevelError

CHAT_MAPPINGS: Final[tuple[str, ...]] = (
    "MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
    "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES", "MODEL_FOR_MULTIMODAL_LM_MAPPING_NAMES",
    "MODEL_FOR_VISION_2_SEQ_MAPPING_NAMES",
)
# Speech seq2seq heads chat only when their processor takes an audio placeholder (audio LMs such as
# Qwen2-Audio), not when they transcribe (Whisper).
AUDIO_CHAT_MAPPING: Final[str] = "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"
MEDIA: Final[tuple[str, ...]] = ("image", "video", "audio")
# Heads that do not chat but whose pipeline renders its prompts with the chat template (the
# decision pipeline wraps its generic prompt in a user turn): they get a template, not the level.
TEMPLATE_MAPPINGS: Final[tuple[str, ...]] = ("MODEL_FOR_DECISION_MAPPING_NAMES",)

# Renders a message's content: a string, or a list of typed items (text and media).
_RENDER = (
    "{%- macro render(content) -%}"
    "{%- if content is string -%}{{- content -}}"
    "{%- else -%}{%- for item in content -%}"
    "{%- if item['type'] == 'text' -%}{{- item['text'] -}}"
    "{%- elif item['type'] == 'image' -%}{{- @image@ -}}"
    "{%- elif item['type'] == 'video' -%}{{- @video@ -}}"
    "{%- elif item['type'] == 'audio' -%}{{- @audio@ -}}"
    "{%- endif -%}{%- endfor -%}{%- endif -%}"
    "{%- endmacro -%}\n"
)


@dataclass(frozen=True)
class ChatFormat:
    """One chat format of `resources/chat.yaml`."""

    name: str
    template: str
    tokens: tuple[str, ...]
    match: re.Pattern[str] | None


@functools.cache
def formats() -> tuple[ChatFormat, ...]:
    """The formats, in file order (the generic one, with no pattern, last)."""
    from tinymodels.knowledge import load_resource

    out = []
    for name, raw in (load_resource("chat.yaml").get("formats") or {}).items():
        if not str(raw.get("reason", "")).strip() or not raw.get("template"):
            raise ValueError(f"chat.yaml: format {name!r} needs a reason and a template")
        out.append(ChatFormat(name=name, template=raw["template"], tokens=tuple(raw.get("tokens") or ()),
                              match=re.compile(raw["match"]) if raw.get("match") else None))
    if not out or out[-1].match is not None:
        raise ValueError("chat.yaml: the last format must be the generic one (no `match`)")
    return tuple(out)


def format_for(model_type: str) -> ChatFormat:
    """The family format of a model type (first `match` that fits), else the generic one."""
    return next(f for f in formats() if f.match is None or f.match.search(model_type))


def chats(mappings: tuple[str, ...], processor_class: str | None = None) -> bool:
    """Whether an architecture registered in `mappings` is a chat model."""
    if any(m in CHAT_MAPPINGS for m in mappings):
        return True
    return AUDIO_CHAT_MAPPING in mappings and _has_audio_placeholder(processor_class)


def wants_template(mappings: tuple[str, ...], processor_class: str | None = None) -> bool:
    """Whether an architecture registered in `mappings` needs a chat template: a chat model, or
    a head whose pipeline renders prompts with the template (`TEMPLATE_MAPPINGS`)."""
    return chats(mappings, processor_class) or any(m in TEMPLATE_MAPPINGS for m in mappings)


def _has_audio_placeholder(processor_class: str | None) -> bool:
    import inspect

    import transformers

    cls = getattr(transformers, processor_class, None) if processor_class else None
    try:
        return cls is not None and "audio_token" in inspect.signature(cls.__init__).parameters
    except (TypeError, ValueError, ImportError):
        return False


def render_template(fmt: ChatFormat, placeholders: dict[str, str]) -> str:
    """The Jinja template of `fmt` with the media placeholders filled in (as string literals)."""
    head = _RENDER
    for medium in MEDIA:
        head = head.replace(f"@{medium}@", json.dumps(placeholders.get(medium, "")))
    return head + fmt.template


def chat_placeholder(processor: Any, medium: str) -> str:
    """What the template renders for a media item: the processor's prompt placeholder, wrapped in
    the processor's own `{medium}_start_token` and `{medium}_end_token` when it refuses the bare
    placeholder but accepts the wrapped one (HunYuan-VL requires <|image_start|><|image|><|image_end|>;
    processors that add the start and end tokens themselves accept the bare one and keep it)."""
    from tinymodels.validate.inputs import prompt_placeholder

    mark = prompt_placeholder(processor, medium)
    start, end = getattr(processor, f"{medium}_start_token", None), getattr(processor, f"{medium}_end_token", None)
    if not mark or not isinstance(start, str) or not isinstance(end, str) or medium not in _PROBE_MEDIA:
        return mark
    wrapped = start + mark + end
    return wrapped if not _accepts(processor, medium, mark) and _accepts(processor, medium, wrapped) else mark


# The processor argument and sample of each medium a placeholder probe sends.
_PROBE_MEDIA: Final[dict[str, tuple[str, Any]]] = {"image": ("images", sample_image), "video": ("videos", sample_video)}


def _accepts(processor: Any, medium: str, mark: str) -> bool:
    """Whether the processor takes a prompt carrying `mark` with one sample of `medium`."""
    argument, sample = _PROBE_MEDIA[medium]
    try:
        processor(text=mark + SAMPLE_TEXT, **{argument: sample()}, return_tensors="pt")
    except Exception:  # noqa: BLE001 - a refused placeholder
        return False
    return True


def attach_template(model_type: str, procs: Any) -> str | None:
    """Set the type's chat template on its tokenizer and processor; returns the format's name."""
    from tinymodels.validate.inputs import type_placeholders

    fmt = format_for(model_type)
    processor = procs.processor
    marks = {m: chat_placeholder(processor, m) for m in MEDIA} if processor is not None else {}
    # Placeholders the type's data gives where its processor writes none (PP-Chart2Table).
    marks.update(type_placeholders(model_type) if processor is not None else {})
    template = render_template(fmt, marks)
    if procs.tokenizer is not None:
        procs.tokenizer.chat_template = template
    if processor is not None:
        processor.chat_template = template
        tokenizer = getattr(processor, "tokenizer", None)
        if tokenizer is not None:
            tokenizer.chat_template = template
    return fmt.name


def sample_messages(media: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """A system turn, a user turn (with one item per medium) and an assistant turn, then a user turn."""
    items: list[dict[str, Any]] = []
    makers: dict[str, Callable[[], Any]] = {"image": sample_image, "video": sample_video, "audio": sample_audio}
    for medium in media:
        items.append({"type": medium, medium: makers[medium]()})
    items.append({"type": "text", "text": SAMPLE_TEXT})
    return [
        {"role": "system", "content": "You are a tiny test model."},
        {"role": "user", "content": items},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": [{"type": "text", "text": "Say more."}]},
    ]


def _media(processor: Any) -> tuple[str, ...]:
    """The one medium a chat round sends the model (image first), if its processor takes any."""
    if processor is None:
        return ()
    attrs = processor.get_attributes()
    for medium, part in (("image", "image_processor"), ("video", "video_processor"), ("audio", "feature_extractor")):
        if part in attrs:
            return (medium,)
    return ()


def chat_processor_kwargs(model: Any, processor: Any) -> dict[str, Any]:
    """Processor arguments of a chat round, as a user passes them: the switches the model needs
    (`inputs.processor_switches`: M-RoPE token types) and the type's `inputs.chat_call` data
    ({argument: sample kind}: apply_chat_template hands the processor one image list per
    conversation, which GOT-OCR 2's takes only as multi-page input)."""
    from tinymodels.knowledge import override_for
    from tinymodels.preprocess.samples import call_samples
    from tinymodels.validate.inputs import processor_switches

    override = override_for(getattr(model.config, "model_type", "") or "")
    extra = call_samples(dict(override.inputs.get("chat_call") or {})) if override else {}
    return {**processor_switches(processor, model), **{k: v for k, v in extra.items() if v is not None}}


def run_chat(model: Any, arch: str, procs: Any, folder: Path, mappings: tuple[str, ...]) -> None:
    """`apply_chat_template(messages, add_generation_prompt=True)` → processor → `generate`; for
    image-text-to-text heads also the pipeline with chat messages. Raises LevelError("chat")."""
    import torch

    from tinymodels.validate.forward import generates
    from tinymodels.validate.inputs import model_inputs

    processor = procs.processor
    owner = processor if processor is not None else procs.tokenizer
    switches = {"processor_kwargs": chat_processor_kwargs(model, processor)} \
        if processor is not None and chat_processor_kwargs(model, processor) else {}
    try:
        media = _media(processor)
        inputs = owner.apply_chat_template(sample_messages(media), add_generation_prompt=True, tokenize=True,
                                           return_dict=True, return_tensors="pt", **switches)
        kwargs = {k: v for k, v in model_inputs(model, dict(inputs), arch).items() if not k.startswith("decoder_")}
        if generates(model, arch, mappings):
            with torch.no_grad():
                out = model.generate(**kwargs, max_new_tokens=3, do_sample=False)
            if out is None or getattr(out, "numel", lambda: 0)() == 0:
                raise ValueError("generate returned nothing")
    except Exception as exc:
        raise LevelError("chat", exc, detail="apply_chat_template → generate") from exc
    can_generate = getattr(model, "can_generate", lambda: False)()
    # The pipeline only generates: a head mapped there that cannot (PI0's policy) is not chatted with.
    if "MODEL_FOR_IMAGE_TEXT_TO_TEXT_MAPPING_NAMES" in mappings and media == ("image",) and can_generate:
        try:
            from transformers import pipeline

            pipe = pipeline("image-text-to-text", model=str(folder), device="cpu")
            with torch.no_grad():
                result = pipe(text=sample_messages(media), max_new_tokens=3, do_sample=False, **switches)
            if not result:
                raise ValueError("the pipeline returned nothing")
        except Exception as exc:
            raise LevelError("chat", exc, detail="image-text-to-text pipeline with chat messages") from exc
