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

from tinymodels.fidelity.levels import LevelError, LevelSkipped
from tinymodels.processors import Processors

# Two different images of one size: with identical ones, batch norm flattens both to the same
# features and balanced class labels cancel every gradient of the classifier.
from tinymodels.samples import (
    SAMPLE_QUESTION,
    SAMPLE_TEXT,
    SAMPLING_RATE,
    SHORT_TEXT,
    sample_audio,
    sample_image_pair,
    sample_video,
)

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


def padded_batch(procs: Processors, text_only: bool = False, length: int | None = None,
                 call: dict[str, str | None] | None = None) -> dict[str, Any]:
    """Two examples of different lengths through the checkpoint's own processors, padded on the
    right; with `text_only` (a head that reads no media), through the tokenizer alone (with the
    type's `inputs.call` text arguments), padded to `length` tokens when given."""
    with padding_on_the_right(procs.text_tokenizer):
        if length is not None and procs.text_tokenizer is not None:
            return tokenized(procs.text_tokenizer, call, padding="max_length", max_length=length)
        if text_only and procs.text_tokenizer is not None:
            return tokenized(procs.text_tokenizer, call)
        return _padded_batch(procs, call)


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


def _padded_batch(procs: Processors, call: dict[str, str | None] | None) -> dict[str, Any]:
    from tinymodels.validate import _call_variants
    if procs.processor is not None:
        first: Exception | None = None
        for variant in _call_variants(procs.processor, None):
            kwargs = dict(variant)
            if "text" in kwargs:
                prefix = kwargs["text"].removesuffix(SAMPLE_TEXT)
                kwargs["text"] = [prefix + SHORT_TEXT, kwargs["text"]]
                # Only the text pads to the longest: audio keeps its extractor's own padding (Whisper's
                # encoder needs its 30 s frames).
                kwargs["text_kwargs"] = {"padding": True}
            if "images" in kwargs:
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
                    return dict(procs.processor(**attempt))
                except Exception as exc:  # noqa: BLE001 - the next variant may suit this processor
                    first = first or exc
        raise first or ValueError("the processor makes no batch")
    out: dict[str, Any] = {}
    if procs.tokenizer is not None:
        out.update(tokenized(procs.tokenizer, call if procs.image_processor is None else None))
    if procs.image_processor is not None:
        out.update(procs.image_processor(sample_image_pair(), return_tensors="pt"))
    if procs.feature_extractor is not None:
        fe = procs.feature_extractor
        rate = getattr(fe, "sampling_rate", SAMPLING_RATE) or SAMPLING_RATE
        pad = {} if pads_by_default(fe) else {"padding": True}
        out.update(fe([sample_audio(0.6, rate), sample_audio(1.0, rate)], sampling_rate=rate, return_tensors="pt", **pad))
    return out


def _text_ids(procs: Processors, batch: dict[str, Any], texts: list[str] | None = None) -> tuple[Any, Any]:
    """(ids, mask) of the batch's text, or of `texts` tokenized alone (speech heads)."""
    if texts is None and "input_ids" in batch:
        ids = batch["input_ids"]
        return ids, batch.get("attention_mask")
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
        if kind == "ids" and "input_ids" not in batch:
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

    from tinymodels.builder import MEDIA_INPUT
    from tinymodels.knowledge import override_for
    from tinymodels.validate import _batch_size, model_inputs, with_synthesized

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
        call = override.inputs.get("call") if override else None
        batch = padded_batch(procs, text_only, call=call)
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
                batch = padded_batch(procs, text_only, length, call)
                kwargs = with_synthesized(model, arch, batch, model_inputs(model, batch, arch))
        size = _batch_size(kwargs)
        kwargs.update(make_labels(kind, model, procs, batch, size))
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
