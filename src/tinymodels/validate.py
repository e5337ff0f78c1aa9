"""Validation: a forward pass on inputs made by the model's own processors.

A model passes when its forward pass (and, for generative heads, a short `generate`)
runs on the processor output and every floating-point output is finite.
"""

from __future__ import annotations

import inspect
from typing import Any

from tinymodels.processors import Processors
from tinymodels.samples import SAMPLE_TEXT, SAMPLING_RATE, sample_audio, sample_image, sample_video


class ValidationError(RuntimeError):
    """The model did not pass validation (the message says where)."""


def processor_inputs(procs: Processors, text_template: str | None = None) -> dict[str, Any]:
    """Inputs for a model, produced by its own processors from the sample text/image/audio/video.

    `text_template` (from overrides) replaces the default sample text; `{image}`, `{video}` and
    `{audio}` in it stand for the processor's placeholder tokens.
    """
    if procs.processor is not None:
        return _from_processor(procs.processor, text_template)
    inputs: dict[str, Any] = {}
    if procs.tokenizer is not None:
        inputs.update(procs.tokenizer(SAMPLE_TEXT, return_tensors="pt"))
    if procs.image_processor is not None:
        inputs.update(procs.image_processor(sample_image(), return_tensors="pt"))
    if procs.video_processor is not None:
        inputs.update(procs.video_processor(sample_video(), return_tensors="pt"))
    if procs.feature_extractor is not None:
        fe = procs.feature_extractor
        rate = getattr(fe, "sampling_rate", SAMPLING_RATE) or SAMPLING_RATE
        inputs.update(fe(sample_audio(sampling_rate=rate), sampling_rate=rate, return_tensors="pt"))
    return inputs


# Processor attributes naming the placeholder a prompt carries for each modality.
_PLACEHOLDERS = {"image": "image_token", "video": "video_token", "audio": "audio_token"}


def _placeholder(processor: Any, modality: str) -> str:
    value = getattr(processor, _PLACEHOLDERS[modality], None)
    return value if isinstance(value, str) else ""


def _call_variants(processor: Any, text_template: str | None) -> list[dict[str, Any]]:
    """Processor call kwargs to try in order: the prompt with one placeholder per media input first
    (what multimodal processors count and expand), then the bare text, then the media alone
    (retrieval processors take text or images, not both)."""
    attrs = processor.get_attributes()
    media: dict[str, Any] = {}
    # One medium per call (image, else video, else audio): omni processors expand each medium's
    # placeholders differently and a single one is enough to exercise the model's media path.
    if "image_processor" in attrs:
        media["images"] = sample_image()
    elif "video_processor" in attrs:
        media["videos"] = sample_video()
    elif "feature_extractor" in attrs or "audio_processor" in attrs:
        fe = getattr(processor, "feature_extractor", None) or getattr(processor, "audio_processor", None)
        rate = getattr(fe, "sampling_rate", SAMPLING_RATE) or SAMPLING_RATE
        media["audio"] = sample_audio(sampling_rate=rate)
        media["sampling_rate"] = rate
    base: dict[str, Any] = {"return_tensors": "pt", **media}
    if "tokenizer" not in attrs:
        return [base]
    marks = {m: _placeholder(processor, m) for m in _PLACEHOLDERS}
    used = {"image": "images", "video": "videos", "audio": "audio"}
    prefix = "".join(marks[m] for m in _PLACEHOLDERS if used[m] in media)
    if text_template is not None:
        return [{**base, "text": text_template.format(**marks)}]
    variants = [{**base, "text": prefix + SAMPLE_TEXT}]
    if prefix:
        variants.append({**base, "text": SAMPLE_TEXT})
    if media:
        variants.append(base)
    return variants


def _from_processor(processor: Any, text_template: str | None = None) -> dict[str, Any]:
    first: Exception | None = None
    for kwargs in _call_variants(processor, text_template):
        try:
            out = dict(processor(**kwargs))
            break
        except Exception as exc:  # noqa: BLE001 - the next variant may suit this processor
            first = first or exc
    else:
        assert first is not None
        raise first
    tokenizer = getattr(processor, "tokenizer", None)
    if "input_ids" not in out and tokenizer is not None:
        # Speech processors put the text in `labels`; decoder-only heads need it as input_ids.
        out["input_ids"] = tokenizer(SAMPLE_TEXT, return_tensors="pt")["input_ids"]
    return out


# Processor outputs that are targets, not inputs: passing them would compute a loss.
_TARGETS = frozenset({"labels", "label", "decoder_labels"})


# Forward parameters of vision/audio sub-models that take a processor output under another name
# (`Glm4vVisionModel.forward(hidden_states, grid_thw)` gets the processor's flattened patches).
_INPUT_ALIASES: dict[str, tuple[str, ...]] = {
    "grid_thw": ("image_grid_thw", "video_grid_thw"),
    "hidden_states": ("pixel_values", "pixel_values_videos"),
    "image_grid_thw": ("video_grid_thw",),
    "pixel_position_ids": ("image_position_ids",),
    "pixel_values": ("pixel_values_videos",),
}


def model_inputs(model: Any, inputs: dict[str, Any], arch: str) -> dict[str, Any]:
    """Keep the named `forward` parameters the processors produced; reshape for multiple choice."""
    params = inspect.signature(model.forward).parameters
    out = {k: v for k, v in inputs.items() if k in params and k not in _TARGETS}
    for name, sources in _INPUT_ALIASES.items():
        if name in params and name not in out:
            # Only under another name when the model has no parameter of the source's own name.
            found = next((inputs[s] for s in sources if s in inputs and s not in params), None)
            if found is not None:
                out[name] = found
    if arch.endswith("ForMultipleChoice"):
        for k, v in list(out.items()):
            if hasattr(v, "dim") and v.dim() == 2:
                out[k] = v.unsqueeze(1).expand(-1, 2, -1).contiguous()
    return out


# Shape entries of a synthesized input that are not config attributes.
_DIM_WORDS = ("batch", "seq")


def _config_value(config: Any, dotted: str) -> Any:
    """`config.a.b` for "a.b" (sub-configs may be objects or dicts)."""
    value = config
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else getattr(value, part, None)
        if value is None:
            raise ValidationError(f"synthesized input: config has no {dotted!r}")
    return value


def synthesized_inputs(config: Any, kwargs: dict[str, Any], spec: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Inputs no processor can produce, built from config dims with a seeded generator.

    SYNTHESIZED, not processor output: only for forward parameters that the model needs and that
    no processor of the type produces (LXMERT's detector region features and boxes, which come
    from an external object detector). `spec` (the `inputs.synthesize` field of an override) maps
    a parameter name to {shape: [...], fill: randn|unit|zeros|ones|int, high: ...}; a shape entry
    is an int, "batch"/"seq" (from the processor's input_ids) or a dotted config attribute.
    Parameters already present in `kwargs` are never replaced.
    """
    import torch

    ids = kwargs.get("input_ids")
    first = next((v for v in kwargs.values() if hasattr(v, "shape") and v.dim() > 0), None)
    dims = {"batch": int(first.shape[0]) if first is not None else 1,
            "seq": int(ids.shape[-1]) if ids is not None else 1}
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, Any] = {}
    for name, raw in spec.items():
        if name in kwargs:
            continue
        shape = [d if isinstance(d, int) else dims[d] if d in _DIM_WORDS else int(_config_value(config, d))
                 for d in raw["shape"]]
        fill = raw.get("fill", "randn")
        if fill == "randn":
            out[name] = torch.randn(shape, generator=gen)
        elif fill == "unit":  # normalized coordinates, boxes
            out[name] = torch.rand(shape, generator=gen)
        elif fill == "int":
            high = raw.get("high", 1)
            high = high if isinstance(high, int) else int(_config_value(config, high))
            out[name] = torch.randint(0, high, shape, generator=gen)
        elif fill in ("zeros", "ones"):
            out[name] = getattr(torch, fill)(shape, dtype=torch.long if raw.get("dtype") == "long" else None)
        else:
            raise ValidationError(f"synthesized input {name!r}: unknown fill {fill!r}")
    return out


def _synthesize_spec(model: Any) -> dict[str, Any]:
    """The `inputs.synthesize` override of the model's type, if any."""
    from tinymodels.knowledge import override_for

    override = override_for(getattr(model.config, "model_type", "") or "")
    return dict((override.inputs.get("synthesize") or {}) if override else {})


def _decoder_inputs(model: Any) -> dict[str, Any]:
    import torch

    params = inspect.signature(model.forward).parameters
    config = model.config
    if "decoder_input_ids" not in params or not getattr(config, "is_encoder_decoder", False):
        return {}
    start = getattr(config, "decoder_start_token_id", None)
    if start is None:
        start = getattr(config, "pad_token_id", None) or 0
    return {"decoder_input_ids": torch.tensor([[start, start]])}


def _check_finite(obj: Any, where: str) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and not torch.isfinite(obj).all():
            raise ValidationError(f"{where}: output contains NaN or Inf")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _check_finite(v, f"{where}.{k}")
    elif isinstance(obj, list | tuple):
        for i, v in enumerate(obj):
            _check_finite(v, f"{where}[{i}]")
    elif hasattr(obj, "to_tuple"):
        _check_finite(dict(obj), where)


def is_generative(arch: str, mappings: tuple[str, ...]) -> bool:
    """Heads that `generate`: causal LMs, seq2seq LMs and speech seq2seq."""
    return any(m in mappings for m in ("MODEL_FOR_CAUSAL_LM_MAPPING_NAMES", "MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES",
                                       "MODEL_FOR_SPEECH_SEQ_2_SEQ_MAPPING_NAMES"))


def validate_model(model: Any, arch: str, inputs: dict[str, Any], mappings: tuple[str, ...]) -> None:
    """Forward pass (+ generate for generative heads); raise ValidationError on failure."""
    import torch

    model.eval()
    kwargs = model_inputs(model, inputs, arch)
    if not kwargs:
        raise ValidationError(f"{arch}: the processors produced no input the model's forward accepts "
                              f"(produced {sorted(inputs)})")
    params = inspect.signature(model.forward).parameters
    spec = {k: v for k, v in _synthesize_spec(model).items() if k in params}
    kwargs.update(synthesized_inputs(model.config, kwargs, spec))
    with torch.no_grad():
        try:
            outputs = model(**kwargs)
        except Exception:
            # Only when the processor gave no decoder inputs: otherwise the first error is the real one.
            decoder = {k: v for k, v in _decoder_inputs(model).items() if k not in kwargs}
            if not decoder:
                raise
            # Seq2seq bases need decoder inputs; heads that derive them must not get them.
            outputs = model(**kwargs, **decoder)
        _check_finite(outputs, f"{arch}.forward")
        if is_generative(arch, mappings) and hasattr(model, "generate"):
            gen_kwargs = {k: v for k, v in kwargs.items() if not k.startswith("decoder_")}
            generated = model.generate(**gen_kwargs, max_new_tokens=3, do_sample=False)
            if generated is None or getattr(generated, "numel", lambda: 0)() == 0:
                raise ValidationError(f"{arch}.generate returned nothing")
