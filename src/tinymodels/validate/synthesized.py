"""Synthesized inputs: forward parameters no processor of the type makes (detector region
features, latents, time series), built from its `inputs.synthesize` data with a seeded generator."""

from __future__ import annotations

import inspect
from typing import Any

from tinymodels.validate.inputs import batch_size
from tinymodels.validate.levels import ValidationError
from tinymodels.validate.shapes import _dim


def synthesized_inputs(config: Any, kwargs: dict[str, Any], spec: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Inputs no processor can produce, built from config dims with a seeded generator.

    SYNTHESIZED, not processor output: only for forward parameters that the model needs and that
    no processor of the type produces (LXMERT's detector region features and boxes, which come
    from an external object detector). `spec` (the `inputs.synthesize` field of an override) maps
    a parameter name to {shape: [...], fill: randn|unit|zeros|ones|int|box, high: ...}; a shape
    entry (and `high`) is an int or an expression over "batch"/"seq" (from the processor's
    input_ids) and config attributes (see `shapes._dim`). Parameters already in `kwargs` are never
    replaced.
    """
    import torch

    ids = kwargs.get("input_ids")
    dims = {"batch": batch_size(kwargs), "seq": int(ids.shape[-1]) if ids is not None else 1}
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    for name, raw in spec.items():
        if name in kwargs:
            continue
        if "items" in raw or raw.get("pair"):
            # Structured states a model takes from another model (a draft model's per-layer-type
            # key/value pairs): `items` makes a dict of entries, `pair` a (key, value) tuple.
            parts = raw["items"] if "items" in raw else {"key": {**raw, "pair": False}, "value": {**raw, "pair": False}}
            made = synthesized_inputs(config, kwargs, parts, seed=seed + len(out) + 1)
            out[name] = made if "items" in raw else (made["key"], made["value"])
            continue
        shape = [_dim(d, config, dims) for d in raw["shape"]]
        fill = raw.get("fill", "randn")
        if fill == "randn":
            out[name] = torch.randn(shape, generator=gen)
        elif fill == "unit":  # normalized coordinates, boxes
            out[name] = torch.rand(shape, generator=gen)
        elif fill == "int":
            high = _dim(raw.get("high", 1), config, dims)
            out[name] = torch.randint(0, high, shape, generator=gen)
        elif fill == "box":  # [x0, y0, x1, y1] integer boxes below `high`, corners ordered
            high = _dim(raw.get("high", 1000), config, dims)
            corners = torch.randint(0, high, shape, generator=gen)
            xs, ys = corners[..., 0::2].sort(-1).values, corners[..., 1::2].sort(-1).values
            out[name] = torch.stack([xs[..., 0], ys[..., 0], xs[..., 1], ys[..., 1]], dim=-1)
        elif fill in ("zeros", "ones"):
            out[name] = getattr(torch, fill)(shape, dtype=torch.long if raw.get("dtype") == "long" else None)
        else:
            raise ValidationError(f"synthesized input {name!r}: unknown fill {fill!r}")
        if raw.get("dtype") in ("bool", "long"):  # masks and ids the model indexes with
            out[name] = out[name].to(getattr(torch, raw["dtype"]))
    return out


def _synthesize_spec(model: Any) -> dict[str, Any]:
    """The `inputs.synthesize` override of the model's type, if any."""
    from tinymodels.knowledge import override_for

    override = override_for(getattr(model.config, "model_type", "") or "")
    return dict((override.inputs.get("synthesize") or {}) if override else {})


def with_synthesized(model: Any, arch: str, inputs: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """`kwargs` (the model's share of the processor output `inputs`) completed by the type's
    `inputs.synthesize` data: inputs no processor makes (visual features, latents, time series)."""
    params = inspect.signature(model.forward).parameters
    # An entry may name the only `architectures` it is for, and `replace` a processor output of the
    # same name that is a different quantity (a music decoder's `input_ids` are codec codes, while the
    # type's tokenizer makes text ids for the text encoder of the full model).
    # A list holds one entry per group of architectures (the first that applies is used).
    # An entry naming its architectures may be a keyword the forward takes only through its
    # `**kwargs` (handed on to a sub-model: PI05Model's `timestep_embeds`).
    var_keyword = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    spec = {}
    for name, raw in _synthesize_spec(model).items():
        entry = next((e for e in (raw if isinstance(raw, list) else [raw]) if arch in e.get("architectures", [arch])),
                     None)
        if entry is not None and (name in params or (var_keyword and "architectures" in entry)):
            spec[name] = entry
    for name, raw in spec.items():
        if name not in inputs or raw.get("replace"):
            # The data says no processor produces it: not a processor output under another name
            # either (a codec decoder's `hidden_states` are latents, not the extractor's waveform).
            kwargs.pop(name, None)
    if "inputs_embeds" in spec:
        # Embeddings stand in for ids a model cannot embed itself (a talker fed by its thinker):
        # the two are exclusive, so the tokenizer's ids stay out.
        kwargs.pop("input_ids", None)
    # Types with no processor at all (time series) get every input from their synthesize data.
    kwargs.update(synthesized_inputs(model.config, kwargs, spec))
    return kwargs
