"""The `train` level: one optimizer step with labels of the head's kind on a padded batch of 2.

It passes when the loss is finite, every gradient is finite (and some parameter gets one), and
the loss has changed after the step. Dropout masks are seeded identically before both forward
passes, so the change comes from the step. Runs on the in-memory model: nothing is saved.
The batch is `validate.train_batch`'s; the labels and the step are this module's.
"""

from __future__ import annotations

import functools
from typing import Any, Final

from tinymodels.preprocess.processors import Processors
from tinymodels.preprocess.samples import SAMPLE_TEXT, SHORT_TEXT
from tinymodels.validate.levels import LevelError, LevelSkipped
from tinymodels.validate.train_batch import padded_batch

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


def fixed_output_length(model: Any, kwargs: dict[str, Any]) -> int | None:
    """The number of positions a masked LM predicts when it is not the input's: Perceiver's decoder
    queries `max_position_embeddings` positions whatever the input length, so its inputs and labels
    are padded to that length (as its documentation does); None when logits follow the input."""
    import torch

    ids: Any = kwargs.get("input_ids", kwargs.get("inputs"))  # (Any: the hasattr checks rule None out)
    if not hasattr(ids, "dim") or ids.dim() != 2:
        return None
    with torch.no_grad():
        logits: Any = getattr(model(**kwargs), "logits", None)
    if not hasattr(logits, "dim") or logits.dim() < 2 or logits.shape[1] == ids.shape[1]:
        return None
    return int(logits.shape[1])


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

    from tinymodels.config.signatures import MEDIA_INPUT
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
        labels: Any  # (Any: the hasattr checks below rule None out)
        prompt: Any
        labels, prompt = kwargs.get("labels"), kwargs.get("decoder_input_ids")
        if hasattr(labels, "shape") and hasattr(prompt, "shape") and tuple(prompt.shape) != tuple(labels.shape):
            # A processor's decoder prompt for generation (Cohere ASR's language and task tokens):
            # trained on labels, a seq2seq head derives its decoder inputs from them.
            kwargs.pop("decoder_input_ids")
            kwargs.pop("decoder_attention_mask", None)
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-2)
        model.train()
        torch.manual_seed(seed)
        loss = _loss(model(**kwargs))
        if not torch.isfinite(loss):
            raise ValueError(f"loss is {loss.item()}")
        loss.backward()
        grads = [p.grad for p in trainable if p.grad is not None]
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
