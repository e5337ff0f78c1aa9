"""The `train` level: one optimizer step with labels of the head's kind on a padded batch of 2.

It passes when the loss is finite, every gradient is finite (and some parameter gets one), and
the loss has changed after the step. Dropout masks are seeded identically before both forward
passes, so the change comes from the step. Runs on the in-memory model: nothing is saved.
"""

from __future__ import annotations

import contextlib
import functools
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
from tinymodels.validate.levels import LevelError, LevelSkipped

LABEL_KINDS: Final[frozenset[str]] = frozenset({"ids", "class", "token_class", "span", "ctc"})


@functools.cache
def head_labels() -> dict[str, str]:
    """Auto mapping name → label kind (`resources/train.yaml`)."""
    from tinymodels.knowledge import load_resource

    heads = dict(load_resource("train.yaml").get("heads") or {})
    bad = {k: v for k, v in heads.items() if v not in LABEL_KINDS}
    if bad:
        raise ValueError(f"train.yaml: unknown label kind(s) {bad}; known: {sorted(LABEL_KINDS)}")
    return heads


def label_kind(mappings: tuple[str, ...]) -> str | None:
    """The label kind of a head registered in `mappings`, or None when none is known."""
    kinds = head_labels()
    return next((kinds[m] for m in mappings if m in kinds), None)


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


def fixed_output_length(model: Any, kwargs: dict[str, Any]) -> int | None:
    """The number of positions a masked LM predicts when it is not the input's: Perceiver's decoder
    queries `max_position_embeddings` positions whatever the input length, so its inputs and labels
    are padded to that length (as its documentation does); None when logits follow the input."""
    import torch

    ids = kwargs.get("input_ids", kwargs.get("inputs"))
    if not hasattr(ids, "dim") or ids.dim() != 2:
        return None
    with torch.no_grad():
        logits = getattr(model(**kwargs), "logits", None)
    if not hasattr(logits, "dim") or logits.dim() < 2 or logits.shape[1] == ids.shape[1]:
        return None
    return int(logits.shape[1])


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
                    out = dict(procs.processor(**attempt))
                except Exception as exc:  # noqa: BLE001 - the next variant may suit this processor
                    first = first or exc
                    continue
                return _with_audio_mask(procs.processor, attempt, out)
        raise first or ValueError("the processor makes no batch")
    out: dict[str, Any] = {}
    if procs.tokenizer is not None:
        out.update(tokenized(procs.tokenizer, call if procs.image_processor is None else None))
    if procs.image_processor is not None:
        out.update(procs.image_processor(sample_image_pair(), return_tensors="pt"))
    if procs.video_processor is not None:
        # Two clips, as `validate.processor_inputs` gives the video processor the last word: an
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


def _text_ids(procs: Processors, batch: dict[str, Any], texts: list[str] | None = None) -> tuple[Any, Any]:
    """(ids, mask) of the batch's text, or of `texts` tokenized alone (speech heads)."""
    if texts is None and batch.get("input_ids") is not None:
        ids = batch["input_ids"]
        mask = batch.get("attention_mask")
        if mask is not None and tuple(mask.shape) != tuple(ids.shape):
            # The mask of another modality (a speech processor's audio frames beside the text ids):
            # the text's padding is where its ids are the pad id.
            pad = getattr(procs.text_tokenizer, "pad_token_id", None)
            mask = ids.ne(pad).long() if isinstance(pad, int) else None
        return ids, mask
    tok = procs.text_tokenizer
    if tok is None:
        raise LevelSkipped("no tokenizer to make text labels with")
    enc = tok(texts or [SHORT_TEXT, SAMPLE_TEXT], padding=True, return_tensors="pt")
    return enc["input_ids"], enc.get("attention_mask")


def make_labels(kind: str, model: Any, procs: Processors, batch: dict[str, Any], size: int) -> dict[str, Any]:
    """Labels of `kind` for a batch of `size` examples."""
    import torch

    config = model.config
    if kind in ("ids", "ctc", "token_class"):
        texts = ["hello", "hello world"] if kind == "ctc" else None
        if kind == "ids" and batch.get("input_ids") is None:  # absent, or None (PP-FormulaNet's processor)
            texts = [SHORT_TEXT, SAMPLE_TEXT]
        ids, mask = _text_ids(procs, batch, texts)
        labels = ids.clone() if kind != "token_class" else torch.zeros_like(ids)
        if mask is not None:
            labels[mask == 0] = -100
        return {"labels": labels[:size]}
    if kind == "class":
        num = int(getattr(config, "num_labels", 2) or 2)
        return {"labels": torch.arange(size) % num}
    import inspect

    if kind == "span" and "start_positions" not in inspect.signature(model.forward).parameters:
        kind = "class"  # a QA head that classifies answers (LXMERT's over its answer vocabulary)
    if kind == "class":
        num = int(getattr(config, "num_labels", 2) or 2)
        return {"labels": torch.arange(size) % num}
    if kind == "span":
        return {"start_positions": torch.ones(size, dtype=torch.long), "end_positions": torch.full((size,), 2)}
    raise ValueError(f"unknown label kind {kind!r}")


def _pad_id(model: Any, procs: Processors) -> int:
    """The pad id of the model's text (config, its text config, else the tokenizer's, else 0)."""
    for owner in (model.config, getattr(model.config, "text_config", None), procs.text_tokenizer):
        pad = getattr(owner, "pad_token_id", None) if owner is not None else None
        if isinstance(pad, int):
            return pad
    return 0


def _loss(outputs: Any) -> Any:
    loss = outputs.get("loss") if hasattr(outputs, "get") else None
    if loss is None and isinstance(outputs, tuple) and outputs and getattr(outputs[0], "dim", lambda: 1)() == 0:
        loss = outputs[0]
    if loss is None:
        raise ValueError("the model computed no loss from the labels")
    return loss


def run_train(model: Any, arch: str, procs: Processors, mappings: tuple[str, ...], seed: int) -> None:
    """One optimizer step; raises LevelError("train") on failure, LevelSkipped when no labels apply."""
    import torch

    from tinymodels.build.builder import MEDIA_INPUT
    from tinymodels.knowledge import override_for
    from tinymodels.validate.inputs import batch_size, model_inputs, type_placeholders
    from tinymodels.validate.synthesized import with_synthesized

    kind = label_kind(mappings)
    if kind is None:
        raise LevelSkipped("no label maker for this head kind")
    import inspect

    if not {"labels", "start_positions"} & set(inspect.signature(model.forward).parameters):
        # An inference-only head (a distilled classifier "with teacher" averages two heads).
        raise LevelSkipped("the head's forward takes no labels")
    try:
        params = set(inspect.signature(model.forward).parameters)
        # A text head of a multimodal type (Emu3's causal LM) reads token ids only: image prompts
        # would only add thousands of placeholder tokens.
        text_only = "input_ids" in params and not any(MEDIA_INPUT.search(n) for n in params)
        override = override_for(getattr(model.config, "model_type", "") or "")
        template = override.inputs.get("text") if override else None
        call = (override.inputs.get("call") or {}) if override else {}
        placeholders = type_placeholders(getattr(model.config, "model_type", "") or "")
        batch = padded_batch(procs, text_only, template=template, call=call, placeholders=placeholders)
        kwargs = with_synthesized(model, arch, batch, model_inputs(model, batch, arch))
        if not kwargs:
            raise LevelSkipped("the processors make no batch the model's forward takes")
        if arch.endswith("ForMultipleChoice"):
            # One question whose two choices are the two different texts: identical choices
            # (`model_inputs` repeats each example) score alike, and their gradients cancel.
            kwargs = {k: v[:, 0].unsqueeze(0) if hasattr(v, "dim") and v.dim() >= 3 else v for k, v in kwargs.items()}
        if "MODEL_FOR_MASKED_LM_MAPPING_NAMES" in mappings and kind == "ids" and text_only:
            length = fixed_output_length(model, kwargs)
            if length is not None:
                batch = padded_batch(procs, text_only, template=template, call=call, length=length)
                kwargs = with_synthesized(model, arch, batch, model_inputs(model, batch, arch))
        size = batch_size(kwargs)
        kwargs.update(make_labels(kind, model, procs, batch, size))
        if kind == "ids" and kwargs.get("input_ids") is None and "input_ids" in params \
                and not {"decoder_input_ids", "inputs_embeds"} & kwargs.keys():
            # The processor made no text (PP-FormulaNet's reads the image alone) while the forward
            # derives the decoder's inputs from `input_ids`, not the labels: teacher forcing on the
            # label text, as it is trained.
            kwargs["input_ids"] = kwargs["labels"].masked_fill(kwargs["labels"] == -100, _pad_id(model, procs))
        labels, prompt = kwargs.get("labels"), kwargs.get("decoder_input_ids")
        if hasattr(labels, "shape") and hasattr(prompt, "shape") and tuple(prompt.shape) != tuple(labels.shape):
            # A processor's decoder prompt for generation (Cohere ASR's language and task tokens):
            # trained on labels, a seq2seq head derives its decoder inputs from them.
            kwargs.pop("decoder_input_ids")
            kwargs.pop("decoder_attention_mask", None)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-2)
        model.train()
        torch.manual_seed(seed)
        loss = _loss(model(**kwargs))
        if not torch.isfinite(loss):
            raise ValueError(f"loss is {loss.item()}")
        loss.backward()
        grads = [p.grad for p in params if p.grad is not None]
        if not grads:
            raise ValueError("no parameter received a gradient")
        if not all(torch.isfinite(g).all() for g in grads):
            raise ValueError("a gradient is NaN or infinite")
        optimizer.step()
        with torch.no_grad():
            torch.manual_seed(seed)
            after = _loss(model(**kwargs))
        if not torch.isfinite(after) or after.item() == loss.item():
            raise ValueError(f"the loss did not change with the step ({loss.item()} → {after.item()})")
    except LevelSkipped:
        raise
    except Exception as exc:
        raise LevelError("train", exc, detail=f"{kind} labels") from exc
    finally:
        model.eval()
