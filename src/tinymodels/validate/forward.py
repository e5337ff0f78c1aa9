"""Validation: a forward pass on inputs made by the model's own processors.

A model passes when its forward pass (and, for generative heads, a short `generate`)
runs on the processor output and every floating-point output is finite. Models without a forward
of their own but with `generate` (Qwen3-Omni) are validated by `generate`; a type's
`inputs.entry_point` data names a public featurize-and-run method instead (ESMFold2). The inputs
are `validate.inputs`' (from the processors) completed by `validate.synthesized`'s.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from tinymodels.preprocess.samples import call_samples
from tinymodels.validate.inputs import SESSION, TARGETS, batch_size, class_source, model_inputs
from tinymodels.validate.levels import LevelError, ValidationError
from tinymodels.validate.synthesized import with_synthesized


def _decoder_inputs(model: Any, batch: int = 1) -> dict[str, Any]:
    """Two start tokens per example of the encoder's batch (`batch`: an extractor may cut one clip
    into several examples, Pop2Piano's bars)."""
    import torch

    params = inspect.signature(model.forward).parameters
    config = model.config
    if "decoder_input_ids" not in params:
        return {}
    # Also heads that are not `is_encoder_decoder` but decode an answer (BLIP's question
    # answering): only tried after a forward without decoder inputs failed.
    text = getattr(config, "text_config", None)
    for cfg, key in ((config, "decoder_start_token_id"), (text, "bos_token_id"), (config, "pad_token_id")):
        start = getattr(cfg, key, None) if cfg is not None else None
        if isinstance(start, int):
            break
    else:
        start = 0
    return {"decoder_input_ids": torch.tensor([[start, start]] * batch)}


def _check_finite(obj: Any, where: str) -> None:
    import torch

    if isinstance(obj, torch.Tensor):
        # -inf is a value models write on purpose (Grounding DINO's logits at masked text
        # positions, attention biases); NaN and +inf only come from a broken computation.
        if obj.is_floating_point() and (torch.isnan(obj).any() or torch.isposinf(obj).any()):
            raise ValidationError(f"{where}: output contains NaN or +Inf")
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


def _entry_point(model: Any) -> dict[str, Any]:
    """The `inputs.entry_point` override of the model's type, if any (see `_validate_entry_point`)."""
    from tinymodels.knowledge import override_for

    override = override_for(getattr(model.config, "model_type", "") or "")
    return dict((override.inputs.get("entry_point") or {}) if override else {})


def _validate_entry_point(model: Any, arch: str, entry: dict[str, Any]) -> None:
    """Validate through the model's own public method that featurizes a raw sample and runs the
    forward (ESMFold2's `infer_protein(sequence)`: its forward takes structure features and atom
    inputs that only its own featurizer makes, and no processor exists). `entry` (the
    `inputs.entry_point` override) names the `method`, the `sample` kind of `samples.CALL_SAMPLES`
    passed to it and fixed keyword `arguments` (few sampling steps)."""
    import torch

    method = getattr(model, entry["method"], None)
    if not callable(method):
        raise ValidationError(f"{arch} has no method {entry['method']!r}")
    sample = call_samples({"sample": entry["sample"]})["sample"]
    with torch.no_grad():
        outputs = method(sample, **(entry.get("arguments") or {}))
    if outputs is None:
        raise ValidationError(f"{arch}.{entry['method']} returned nothing")
    _check_finite(outputs, f"{arch}.{entry['method']}")


def generates_alone(model: Any) -> bool:
    """False when the type's `inputs.generate` override says the head generates only inside another
    model's generation (a speculative-decoding draft runs as the target's `assistant_model`)."""
    from tinymodels.knowledge import override_for

    override = override_for(getattr(model.config, "model_type", "") or "")
    return not override or override.inputs.get("generate", True) is not False


def _generate_only(model: Any) -> bool:
    """True for a model that only generates: its class leaves `forward` nn.Module's unimplemented one
    (Qwen3-Omni's full model chains thinker and talker in `generate`) but defines `generate`."""
    import torch

    return type(model).forward is torch.nn.Module.forward and callable(getattr(model, "generate", None))


# `if key.startswith("semantic_"):` in a generate that routes prefixed arguments to its stages.
_STAGE_PREFIX = re.compile(r"""\bkey\.startswith\(["'](\w+_)["']\)""")


def generation_stages(model: Any) -> list[str]:
    """The argument prefixes a chained `generate` routes to its stages, in order (Bark's
    `semantic_`, `coarse_`, `fine_`); empty for a plain generate."""
    try:
        return _STAGE_PREFIX.findall(inspect.getsource(type(model).generate))
    except (OSError, TypeError):
        return []


def _validate_generate_only(model: Any, arch: str, inputs: dict[str, Any]) -> None:
    """Validate a generate-only model by a short greedy `generate` on the processor output: every
    output but the targets goes in (generate forwards them to its sub-models), and every
    `*max_new_tokens` argument its signature names (one per stage of a chained model) is kept at 3
    (a generate routing prefixed arguments: its first stage's)."""
    import torch

    params = inspect.signature(model.generate).parameters
    budget = {n: 3 for n in params if n.endswith("max_new_tokens")}
    kwargs = {k: v for k, v in inputs.items() if k not in TARGETS and k != SESSION}
    if 'startswith("thinker_")' in class_source(type(model)):
        # A thinker-talker `generate` (Qwen2.5-Omni) hands every input it does not route itself to
        # the talker too, which rejects pixels; its `thinker_` prefix sends one to the thinker only.
        routed = {"input_ids", "attention_mask", "input_features", "feature_attention_mask"}
        kwargs = {k if k in routed else f"thinker_{k}": v for k, v in kwargs.items()}
    stages = generation_stages(model)
    if not budget and stages:
        # A chained generate routing `<stage>_` arguments to its sub-models (Bark's semantic_,
        # coarse_, fine_) sets the later stages' lengths itself (a bare max_new_tokens reaches
        # them too and collides): the first stage gets the budget, as Bark's documentation does.
        budget = {f"{stages[0]}max_new_tokens": 3}
    else:
        budget["max_new_tokens"] = 3
    with torch.no_grad():
        generated = model.generate(**kwargs, **budget, do_sample=False)
    if generated is None:
        raise ValidationError(f"{arch}.generate returned nothing")
    _check_finite(generated, f"{arch}.generate")
    sequences = generated[0] if isinstance(generated, tuple) else getattr(generated, "sequences", generated)
    if getattr(sequences, "numel", lambda: 0)() == 0:
        raise ValidationError(f"{arch}.generate returned nothing")


def validate_model(model: Any, arch: str, inputs: dict[str, Any], mappings: tuple[str, ...],
                   generate: bool = True) -> bool:
    """Forward pass (+ generate for generative heads when `generate`); raise ValidationError on a
    failed forward, `LevelError("generate", …)` on a failed generate. Returns whether `generate` ran."""
    import torch

    model.eval()
    entry = _entry_point(model)
    if entry:
        _validate_entry_point(model, arch, entry)
        return False
    if _generate_only(model):
        _validate_generate_only(model, arch, inputs)
        return True
    kwargs = with_synthesized(model, arch, inputs, model_inputs(model, inputs, arch))
    if not kwargs:
        raise ValidationError(f"{arch}: the processors produced no input the model's forward accepts "
                              f"(produced {sorted(inputs)})")
    with torch.no_grad():
        try:
            outputs = model(**kwargs)
        except Exception:  # any forward error: retried once with decoder inputs, else re-raised
            # Only when the processor gave no decoder inputs: otherwise the first error is the real one.
            decoder = {k: v for k, v in _decoder_inputs(model, batch_size(kwargs)).items() if k not in kwargs}
            if not decoder:
                raise
            # Seq2seq bases need decoder inputs; heads that derive them must not get them.
            outputs = model(**kwargs, **decoder)
        _check_finite(outputs, f"{arch}.forward")
        if not (generate and generates(model, arch, mappings)):
            return False
        gen_kwargs = generate_inputs(model, inputs, {k: v for k, v in kwargs.items() if not k.startswith("decoder_")})
        try:
            generated = model.generate(**gen_kwargs, max_new_tokens=3, do_sample=False)
            if generated is None or _numel(generated) == 0:
                raise ValidationError(f"{arch}.generate returned nothing")
        except Exception as exc:  # any error of generate fails the level, wrapped with its name
            raise LevelError("generate", exc) from exc
    return True


def _numel(out: Any) -> int:
    """Elements of a generate output: a tensor, or a list of tensors (VibeVoice's waveforms)."""
    if hasattr(out, "numel"):
        return int(out.numel())
    if isinstance(out, list | tuple):
        return sum(_numel(o) for o in out)
    return 0


def _generate_source(cls: type) -> str:
    """Source of the model's own generation code: the classes of its MRO, outside transformers'
    generation package, that define `generate` or a decoding loop (VibeVoice's mixin, `_sample`)."""
    owners = [c for c in inspect.getmro(cls) if {"generate", "_sample"} & set(vars(c))
              and not c.__module__.startswith("transformers.generation")]
    return "\n".join(class_source(c) for c in owners)


def generate_inputs(model: Any, inputs: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """What `generate` gets: the forward's inputs, unless the model's own generation code reads a
    processor output by name that they lack (Kyutai's generate encodes `input_values` into the
    codes its forward reads; VibeVoice's sampling reads the `attention_mask` its forward takes
    no part in): then the processor's outputs, as users call `model.generate(**inputs)`."""
    source = _generate_source(type(model))
    # Text ids that the forward does not read are a transcript (Whisper's processor tokenizes the
    # text it is given as the target), not a prompt.
    left_out = set(TARGETS) | {SESSION}
    if "input_ids" not in inspect.signature(model.forward).parameters:
        left_out.add("input_ids")
    missing = [k for k in inputs if k not in kwargs and k not in left_out and f'"{k}"' in source]
    if not missing:
        return kwargs
    return {k: v for k, v in inputs.items() if k not in left_out}


def generates(model: Any, arch: str, mappings: tuple[str, ...]) -> bool:
    """Whether the `generate` level applies: a generative head that generates on its own."""
    return is_generative(arch, mappings) and hasattr(model, "generate") and generates_alone(model)
