"""The batch the `train` level steps on: two examples of different lengths through the
checkpoint's own processors (the type's prompt, call arguments and placeholders, as the forward
level uses them), padded on the right."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Final

from tinymodels.preprocess.processors import Processors

# Two different images of one size: with identical ones, batch norm flattens both to the same
# features and balanced class labels cancel every gradient of the classifier.
from tinymodels.preprocess.samples import (
    SAMPLE_QUESTION,
    SAMPLE_TEXT,
    SAMPLING_RATE,
    SHORT_TEXT,
    sample_audio,
    sample_image_pair,
    sample_video,
)


def pads_by_default(feature_extractor: Any) -> bool:
    """Whether a feature extractor pads a batch by itself (Whisper's to its 3000 frames, which its
    encoder needs): then its own padding is kept, else it is asked to pad to the longest."""
    import inspect

    param = inspect.signature(type(feature_extractor).__call__).parameters.get("padding")
    return param is not None and param.default not in (False, None, "do_not_pad", inspect.Parameter.empty)


def _batch_of_two(kind: str) -> list[Any]:
    """Two examples of an `inputs.call` sample kind: a batch of one (Evolla's proteins) twice over,
    a sequence (OCR words, their boxes: cut alike, so they stay paired) as its first half and the
    whole, anything else twice."""
    from tinymodels.preprocess.samples import CALL_SAMPLES

    first, second = CALL_SAMPLES[kind](), CALL_SAMPLES[kind]()
    if isinstance(first, list) and len(first) == 1:
        return first + second
    if isinstance(first, list):
        return [first[: max(1, len(first) // 2)], second]
    return [first, second]


@contextlib.contextmanager
def padding_on_the_right(tokenizer: Any) -> Iterator[None]:
    """Pad on the right while a training batch is made, as fine-tuning recipes do (left padding is
    a generation convention, e.g. Gemma's tokenizer default). Left-padded rows of a model whose pad
    embedding is zero stay exactly zero through every layer, and an unclamped RMS over them
    (Gemma 3n's `mean(h ** 2) ** 0.5` over its altup states) has an infinite derivative at 0."""
    side = getattr(tokenizer, "padding_side", None)
    if side is None or side == "right":
        yield
        return
    tokenizer.padding_side = "right"
    try:
        yield
    finally:
        tokenizer.padding_side = side


def tokenized(tokenizer: Any, call: dict[str, str | None] | None = None, **padding: Any) -> dict[str, Any]:
    """The two texts through a tokenizer, with the string arguments of the type's `inputs.call`
    data that validation passes too (a question before each text, for heads that find the question
    by its separators: Longformer's question answering); `padding` as the tokenizer takes it."""
    args: dict[str, list[str]] = {"text": [SHORT_TEXT, SAMPLE_TEXT]}
    for name, kind in (call or {}).items():
        # Only texts: other arguments (words and boxes, languages) belong to processors.
        if kind == "text":
            args[name] = [SHORT_TEXT, SAMPLE_TEXT]
        elif kind == "question":
            args[name] = [SAMPLE_QUESTION, SAMPLE_QUESTION]
    text = args.pop("text")
    return dict(tokenizer(text, **args, return_tensors="pt", **(padding or {"padding": True})))


def padded_batch(procs: Processors, text_only: bool = False, template: str | None = None,
                 call: dict[str, str | None] | None = None, placeholders: dict[str, str] | None = None,
                 length: int | None = None) -> dict[str, Any]:
    """Two examples of different lengths through the checkpoint's own processors, padded on the
    right; with `text_only` (a head that reads no media), through the tokenizer alone (with the
    type's `inputs.call` text arguments), padded to `length` tokens when given. `template` and
    `call` are the type's `inputs.text` prompt and `inputs.call` arguments (words and boxes, a
    clip read from `images`), `placeholders` its `inputs.placeholders`, as the forward level uses them."""
    with padding_on_the_right(procs.text_tokenizer):
        if length is not None and procs.text_tokenizer is not None:
            return tokenized(procs.text_tokenizer, call, padding="max_length", max_length=length)
        if text_only and procs.text_tokenizer is not None:
            return tokenized(procs.text_tokenizer, call)
        return _padded_batch(procs, template, call, placeholders)


def _padded_batch(procs: Processors, template: str | None, call: dict[str, str | None] | None,
                  placeholders: dict[str, str] | None) -> dict[str, Any]:
    from tinymodels.preprocess.samples import CALL_SAMPLES
    from tinymodels.validate.inputs import call_variants

    call = dict(call or {})
    images = call.pop("images", None)
    if procs.processor is not None:
        first: Exception | None = None
        for variant in call_variants(procs.processor, template, placeholders):
            kwargs = dict(variant)
            if "text" in kwargs:
                prefix = kwargs["text"].removesuffix(SAMPLE_TEXT)
                kwargs["text"] = [prefix + SHORT_TEXT, kwargs["text"]]
                # Only the text pads to the longest: audio keeps its extractor's own padding (Whisper's
                # encoder needs its 30 s frames).
                kwargs["text_kwargs"] = {"padding": True}
            if images is not None and ("images" in kwargs or "videos" in kwargs):
                # The type's sample for `images` replaces the variant's medium (InstructBLIP-Video's
                # processor reads its clip from `images`, its video processor from there).
                kwargs.pop("videos", None)
                kwargs["images"] = [CALL_SAMPLES[images](), CALL_SAMPLES[images]()]
            elif "images" in kwargs:
                # One list per prompt: VLM processors count each prompt's placeholders against its images.
                kwargs["images"] = [[image] for image in sample_image_pair()] if "text" in kwargs else sample_image_pair()
            if "videos" in kwargs:
                kwargs["videos"] = [sample_video(), sample_video()]
            if "audio" in kwargs:
                rate = kwargs.get("sampling_rate", SAMPLING_RATE)
                kwargs["audio"] = [sample_audio(0.6, rate), sample_audio(1.0, rate)]
                fe = getattr(procs.processor, "feature_extractor", None)
                if fe is not None and not pads_by_default(fe):
                    kwargs["audio_kwargs"] = {"padding": True}
            for name, kind in call.items():
                if kind is None:
                    kwargs.pop(name, None)
                else:
                    # Per-example arguments (words, boxes, proteins) come two by two; a
                    # setting (Cohere ASR's `language`) is given once.
                    sample = CALL_SAMPLES[kind]()
                    kwargs[name] = _batch_of_two(kind) if name in _BATCHED or isinstance(sample, list) else sample
            # Per-modality padding where the processor routes it, else flat (custom `__call__`s
            # hand every argument to each part: the extractor's own padding first, then `padding`).
            flat = {k: v for k, v in kwargs.items() if not k.endswith("_kwargs")}
            attempts = [kwargs, flat, {**flat, "padding": True}] if len(flat) < len(kwargs) else [kwargs]
            if "images" in kwargs and "text" in kwargs:
                attempts.append({**kwargs, "images": sample_image_pair()})  # processors that take a flat list
            if "audio" in flat and "text" in flat:
                # Media alone keeps the extractor's own padding (speech heads take their labels
                # from the tokenizer; SpeechT5's processor refuses text and audio together).
                alone = {k: v for k, v in flat.items() if k != "text"}
                attempts.insert(-1, {**alone, **kwargs.get("audio_kwargs", {})})
            for attempt in attempts:
                try:
                    made = dict(procs.processor(**attempt))
                except Exception as exc:  # noqa: BLE001 - the next variant may suit this processor
                    first = first or exc
                    continue
                return _with_audio_mask(procs.processor, attempt, made)
        raise first or ValueError("the processor makes no batch")
    out: dict[str, Any] = {}
    if procs.tokenizer is not None:
        out.update(tokenized(procs.tokenizer, call if procs.image_processor is None else None))
    if procs.image_processor is not None:
        out.update(procs.image_processor(sample_image_pair(), return_tensors="pt"))
    if procs.video_processor is not None:
        # Two clips, as `inputs.processor_inputs` gives the video processor the last word: an
        # image processor alone reads a list of images as the frames of one clip (VideoMAE's).
        # The second clip runs backwards so the two differ.
        clip = sample_video()
        out.update(procs.video_processor([clip, clip[::-1]], return_tensors="pt"))
    if procs.feature_extractor is not None:
        fe = procs.feature_extractor
        rate = getattr(fe, "sampling_rate", SAMPLING_RATE) or SAMPLING_RATE
        pad = {} if pads_by_default(fe) else {"padding": True}
        out.update(fe([sample_audio(0.6, rate), sample_audio(1.0, rate)], sampling_rate=rate, return_tensors="pt", **pad))
    return out


def _with_audio_mask(processor: Any, call: dict[str, Any], out: dict[str, Any]) -> dict[str, Any]:
    """`out` with the padded audio's frame mask when the processor dropped it: LASR's processor,
    given text, pops the `attention_mask` its text and audio outputs share, and its CTC loss
    needs the audio frames' lengths. The feature extractor alone gives the mask."""
    fe = getattr(processor, "feature_extractor", None)
    if "attention_mask" in out or "audio" not in call or "text" not in call or fe is None:
        return out
    try:
        rate = call.get("sampling_rate") or getattr(fe, "sampling_rate", SAMPLING_RATE)
        mask = fe(call["audio"], sampling_rate=rate, return_attention_mask=True, padding=True,
                  return_tensors="pt").get("attention_mask")
    except Exception:  # noqa: BLE001 - an extractor that cannot run alone keeps the processor's output
        return out
    features = next((v for k, v in out.items() if k in ("input_features", "input_values")), None)
    if mask is not None and features is not None and tuple(mask.shape) == tuple(features.shape[:2]):
        out["attention_mask"] = mask
    return out


# Call arguments the batch makes two of itself (a call sample stands for one example).
_BATCHED: Final[frozenset[str]] = frozenset({"text", "images", "videos", "audio"})
