"""Validation: a forward pass on inputs made by the model's own processors.

A model passes when its forward pass (and, for generative heads, a short `generate`)
runs on the processor output and every floating-point output is finite. Models without a forward
of their own but with `generate` (Qwen3-Omni) are validated by `generate`; video trackers whose
forward takes an inference session get one built by their processor (`VideoSessions`); a type's
`inputs.entry_point` data names a public featurize-and-run method instead (ESMFold2).
"""

from __future__ import annotations

import ast
import inspect
import operator
import re
from typing import Any

from tinymodels.preprocess.processors import Processors
from tinymodels.preprocess.samples import (
    SAMPLE_TEXT,
    SAMPLING_RATE,
    call_samples,
    sample_audio,
    sample_image,
    sample_video,
)


class ValidationError(RuntimeError):
    """The model did not pass validation (the message says where)."""


def processor_inputs(procs: Processors, text_template: str | None = None,
                     call: dict[str, str | None] | None = None,
                     placeholders: dict[str, str] | None = None) -> dict[str, Any]:
    """Inputs for a model, produced by its own processors from the sample text/image/audio/video.

    `text_template` (from overrides) replaces the default sample text; `{image}`, `{video}` and
    `{audio}` in it stand for the processor's placeholder tokens. `call` (the `inputs.call`
    override: argument -> sample kind of `samples.CALL_SAMPLES`, None to leave one out) adds the
    arguments some processors require (words and boxes, an image pair, a trimap…) to the call of
    the whole processor, else of the image processor, else of the tokenizer (a question and
    its context as a text pair); without a whole processor, `audio` replaces the feature
    extractor's sample waveform.
    """
    if procs.processor is not None:
        return _from_processor(procs.processor, text_template, call, placeholders)
    inputs: dict[str, Any] = {}
    extra = call_samples(call or {})
    # `audio` names the waveform the feature extractor gets in place of the default sample.
    audio = extra.pop("audio", None)
    if procs.tokenizer is not None:
        text_kwargs = {} if procs.image_processor is not None else extra
        text_kwargs = {k: v for k, v in {"text": SAMPLE_TEXT, **text_kwargs}.items() if v is not None}
        # The text goes first and positionally: table tokenizers (TAPAS) name that argument `table`.
        text_args = (text_kwargs.pop("text"),) if "text" in text_kwargs else ()
        inputs.update(procs.tokenizer(*text_args, **text_kwargs, return_tensors="pt"))
    if procs.image_processor is not None:
        image_kwargs = {k: v for k, v in {"images": sample_image(), **extra}.items() if v is not None}
        inputs.update(procs.image_processor(**image_kwargs, return_tensors="pt"))
    if procs.video_processor is not None:
        inputs.update(procs.video_processor(sample_video(), return_tensors="pt"))
    if procs.feature_extractor is not None:
        fe = procs.feature_extractor
        rate = getattr(fe, "sampling_rate", SAMPLING_RATE) or SAMPLING_RATE
        # Passed explicitly when set: some extractors (Qwen3-ASR's) read only the call argument.
        takes_mask = "return_attention_mask" in inspect.signature(fe.__call__).parameters
        mask = {"return_attention_mask": True} if takes_mask and getattr(fe, "return_attention_mask", False) is True else {}
        # A batch of one: some extractors (Gemma 4's) mishandle a bare array.
        audio = sample_audio(sampling_rate=rate) if audio is None else audio
        inputs.update(fe([audio], sampling_rate=rate, return_tensors="pt", **mask))
    return inputs


# Processor attributes naming the placeholder a prompt carries for each modality.
_PLACEHOLDERS = {"image": "image_token", "video": "video_token", "audio": "audio_token"}


def prompt_placeholder(processor: Any, modality: str) -> str:
    """The placeholder a prompt carries for one medium of the processor (`image`, `video`, `audio`)."""
    # A processor whose expanded token differs from what the prompt carries names the prompt's
    # one separately (Qianfan-OCR: `<image>` in the prompt, `<|context_image|>` after expansion).
    value = getattr(processor, f"{modality}_placeholder_token", None)
    if not isinstance(value, str):
        value = getattr(processor, _PLACEHOLDERS[modality], None)
    return value if isinstance(value, str) else ""


def processor_switches(processor: Any, model: Any | None = None) -> dict[str, Any]:
    """Processor call switches that its model needs turned on, by introspection: a processor
    listing the M-RoPE token types among the model's inputs returns them only when asked
    (Cosmos3 Edge's `return_mm_token_type_ids`), as a user of the model must ask. Not for a
    `model` whose forward never reads them (MiniMax-M3-VL's): `generate` refuses unused inputs."""
    if "mm_token_type_ids" in (getattr(processor, "model_input_names", None) or ()) \
            and not getattr(processor, "return_mm_token_type_ids", False) \
            and (model is None or "mm_token_type_ids" in inspect.signature(model.forward).parameters):
        return {"return_mm_token_type_ids": True}
    return {}


def type_placeholders(model_type: str) -> dict[str, str]:
    """The type's `inputs.placeholders` data as prompt text per medium: for a processor that writes
    no media tokens itself while its model reads one placeholder per feature, the prompt carries
    `token` `repeat` times, as the checkpoint's own chat template writes it (PP-Chart2Table's 256)."""
    from tinymodels.knowledge import override_for

    override = override_for(model_type)
    data = dict((override.inputs.get("placeholders") or {}) if override else {})
    return {medium: str(raw["token"]) * int(raw.get("repeat", 1)) for medium, raw in data.items()}


def _call_variants(processor: Any, text_template: str | None,
                   placeholders: dict[str, str] | None = None) -> list[dict[str, Any]]:
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
    base.update(processor_switches(processor))
    marks = {**{m: prompt_placeholder(processor, m) for m in _PLACEHOLDERS}, **(placeholders or {})}
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


def _from_processor(processor: Any, text_template: str | None = None,
                    call: dict[str, str | None] | None = None,
                    placeholders: dict[str, str] | None = None) -> dict[str, Any]:
    first: Exception | None = None
    for variant in _call_variants(processor, text_template, placeholders):
        # Fresh samples per variant: a processor may consume (mutate) its arguments.
        kwargs = {k: v for k, v in {**variant, **call_samples(call or {})}.items() if v is not None}
        try:
            out = dict(processor(**kwargs))
            break
        except Exception as exc:  # noqa: BLE001 - the next variant may suit this processor
            first = first or exc
    else:
        assert first is not None
        raise first
    tokenizer = getattr(processor, "tokenizer", None)
    if "input_ids" not in out and tokenizer is not None and _takes_text(processor):
        # Speech processors put the text in `labels`; decoder-only heads need it as input_ids.
        out["input_ids"] = tokenizer(SAMPLE_TEXT, return_tensors="pt")["input_ids"]
    if callable(getattr(processor, "init_video_session", None)):
        out[_SESSION] = VideoSessions(processor)
    return out


# The key under which processor inputs carry a video tracker's session maker (not a tensor).
_SESSION = "inference_session"


class VideoSessions:
    """Makes video inference sessions with the processor's public API, for trackers whose forward
    takes a session instead of tensors (SAM 2 / SAM 3 video): the sample clip, prompted on its
    first frame with one positive point at its centre (point trackers) or the sample text (SAM 3's
    open-vocabulary tracker). A fresh session per call: forward fills it with its memory."""

    def __init__(self, processor: Any) -> None:
        self.processor = processor

    def __call__(self) -> Any:
        frames = sample_video()
        height, width = frames[0].shape[:2]
        session = self.processor.init_video_session(video=frames, inference_device="cpu")
        if callable(getattr(self.processor, "add_inputs_to_inference_session", None)):
            self.processor.add_inputs_to_inference_session(
                session, frame_idx=0, obj_ids=1, input_points=[[[[width / 2, height / 2]]]], input_labels=[[[1]]])
        elif callable(getattr(self.processor, "add_text_prompt", None)):
            session = self.processor.add_text_prompt(session, SAMPLE_TEXT.split("!")[0])
        return session


def _takes_text(processor: Any) -> bool:
    """Whether the processor's call takes text (a `text` or positional `*args` parameter): one that
    takes none (Pop2Piano's: audio in, MIDI tokens decoded out) holds its tokenizer for decoding
    outputs, and its model reads no text ids."""
    params = inspect.signature(type(processor).__call__).parameters.values()
    return any(p.name == "text" or p.kind is p.VAR_POSITIONAL for p in params)


# Processor outputs that are targets, not inputs: passing them would compute a loss.
_TARGETS = frozenset({"labels", "label", "decoder_labels"})


# Forward parameters of vision/audio sub-models that take a processor output under another name
# (`Glm4vVisionModel.forward(hidden_states, grid_thw)` gets the processor's flattened patches).
_INPUT_ALIASES: dict[str, tuple[str, ...]] = {
    "grid_thw": ("image_grid_thw", "video_grid_thw"),
    # Phi-4-multimodal's feature extractor names its log-mel features `audio_input_features`.
    "hidden_states": ("pixel_values", "pixel_values_videos", "input_values", "audio_input_features"),
    "image_grid_thw": ("video_grid_thw",),
    "merge_sizes": ("image_merge_sizes", "video_merge_sizes"),
    "pixel_position_ids": ("image_position_ids",),
    "pixel_values": ("pixel_values_videos", "image_pixel_values"),
    # Phi-4-multimodal's image processor names its crops and their patch masks `image_*`.
    "patch_attention_mask": ("image_attention_mask",),
    # Audio encoders whose parent passes the feature extractor's outputs under other names
    # (Qwen3-ASR's `input_features_mask` is the extractor's `attention_mask`; Gemma 3n's `audio_mel`).
    "input_features_mask": ("attention_mask",),
    "audio_mel": ("input_features",),
    # Phi-4-multimodal's audio encoder takes the extractor's `audio_attention_mask` as `mask`.
    "mask": ("audio_attention_mask",),
}
# Boolean masks a sub-model takes inverted (True = padding) from what the processor gives: Gemma 3n's
# parent calls its audio tower with `~input_features_mask`.
_INVERTED_ALIASES: dict[str, str] = {"audio_mel_mask": "input_features_mask"}


# `batch_size, _, height, width = pixel_values.shape`: the rank of images a model's code expects.
_PIXEL_UNPACK = re.compile(r"^\s*(\w+(?:\s*,\s*\w+)+)\s*,?\s*=\s*pixel_values\.shape\s*$", re.M)


def _pixel_rank(model: Any) -> int | None:
    """The `pixel_values` rank the model unpacks: from its own class's code (a VLM's 5-D image
    batches), else, for models without text input only (vision towers: a VLM's own code decides
    for its tower), from the first submodule that unpacks it (the patch embedding)."""
    own = _PIXEL_UNPACK.search(_class_source(type(model)))
    if own:
        return own.group(1).count(",") + 1
    if "input_ids" in inspect.signature(model.forward).parameters:
        return None
    seen: set[type] = {type(model)}
    for module in model.modules():
        if type(module) in seen:
            continue
        seen.add(type(module))
        found = _PIXEL_UNPACK.search(_class_source(type(module)))
        if found:
            return found.group(1).count(",") + 1
    return None


def _class_source(cls: type) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


def _match_pixel_rank(model: Any, out: dict[str, Any]) -> None:
    """Composite processors batch images as (batch, images, C, H, W) and X-CLIP's cuts a clip into
    (frames, C, H, W); a model unpacking one dimension fewer (a VLM's vision tower) gets the images
    flattened, one dimension more (a video model) gets them as one batch."""
    pixels = out.get("pixel_values")
    if not hasattr(pixels, "dim") or pixels.dim() not in (4, 5):
        return
    rank = _pixel_rank(model)
    if rank == pixels.dim() - 1:
        out["pixel_values"] = pixels.flatten(0, 1)
    elif rank == pixels.dim() + 1:
        out["pixel_values"] = pixels.unsqueeze(0)


def _optional(param: inspect.Parameter) -> bool:
    """Whether a parameter's annotation admits None (`X | None`, `Optional[X]`, as text or type)."""
    annotation = param.annotation
    text = annotation if isinstance(annotation, str) else repr(annotation)
    return annotation is not param.empty and ("None" in text or "Optional" in text)


def model_inputs(model: Any, inputs: dict[str, Any], arch: str) -> dict[str, Any]:
    """Keep the named `forward` parameters the processors produced; reshape images to the rank the
    model unpacks, and for multiple choice."""
    params = inspect.signature(model.forward).parameters
    out = {k: v for k, v in inputs.items() if k in params and k not in _TARGETS}
    for name, sources in _INPUT_ALIASES.items():
        if name in params and name not in out:
            # Only under another name when the model has no parameter of the source's own name.
            found = next((inputs[s] for s in sources if s in inputs and s not in params), None)
            if found is not None:
                out[name] = found
    for name, source in _INVERTED_ALIASES.items():
        if name in params and name not in out and source in inputs and source not in params:
            out[name] = ~inputs[source].bool()
    if _SESSION in params and isinstance(inputs.get(_SESSION), VideoSessions):
        # A tracker runs on a session, on its prompted first frame; the clip's tensors live in it.
        out = {_SESSION: inputs[_SESSION](), "frame_idx": 0}
    if out:
        for name, param in params.items():
            # A parameter without default but typed optional (Phi-4's audio encoder `mask: Tensor |
            # None`): its parent passes None when it has none, so do we.
            if name not in out and param.default is param.empty and param.kind is param.POSITIONAL_OR_KEYWORD \
                    and name != "self" and _optional(param):
                out[name] = None
    _match_pixel_rank(model, out)
    patches, pixels = out.get("patch_attention_mask"), out.get("pixel_values")
    if hasattr(patches, "dim") and hasattr(pixels, "dim") and patches.dim() == pixels.dim():
        # A patch mask per crop (batch, crops, h, w) follows crops flattened into the batch.
        out["patch_attention_mask"] = patches.flatten(0, 1).bool()
    mask, ids = out.get("attention_mask"), inputs.get("input_ids")
    if "input_ids" not in params and hasattr(mask, "shape") and hasattr(ids, "shape") and mask.shape == ids.shape:
        # The text's mask (a dual encoder's processor output) is not a mask over a vision
        # backbone's patches.
        del out["attention_mask"]
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


# Operators a shape expression may use (integer arithmetic only).
_DIM_OPS: dict[type, Any] = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
                             ast.FloorDiv: operator.floordiv, ast.Pow: operator.pow}


def _dim(entry: int | str, config: Any, dims: dict[str, int]) -> int:
    """One shape entry: an int, or an integer expression over "batch"/"seq", dotted config
    attributes and ints with + - * // ** and max()/len() (a time series' past length is
    `context_length + max(lags_sequence)`); a list-valued attribute stands for its largest item
    unless len() asks for its length."""
    if isinstance(entry, int):
        return entry

    def name(node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, ast.Attribute):
            base = name(node.value)
            return f"{base}.{node.attr}" if base else None
        return None

    def value(node: ast.expr, raw: bool = False) -> Any:
        dotted = name(node)
        if dotted is not None:
            found = dims[dotted] if dotted in _DIM_WORDS else _config_value(config, dotted)
            return found if raw or not isinstance(found, list | tuple) else max(found)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _DIM_OPS:
            return _DIM_OPS[type(node.op)](value(node.left), value(node.right))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("max", "len") \
                and len(node.args) == 1:
            items = value(node.args[0], raw=True)
            items = list(items) if isinstance(items, list | tuple) else [items]
            return max(items) if node.func.id == "max" else len(items)
        raise ValidationError(f"synthesized input: unsupported shape expression {entry!r}")

    return int(value(ast.parse(str(entry), mode="eval").body))


def _batch_size(kwargs: dict[str, Any]) -> int:
    """The batch size of model inputs: the first dimension of the first non-scalar tensor."""
    first = next((v for v in kwargs.values() if hasattr(v, "dim") and v.dim() > 0), None)
    return int(first.shape[0]) if first is not None else 1


def synthesized_inputs(config: Any, kwargs: dict[str, Any], spec: dict[str, Any], seed: int = 0) -> dict[str, Any]:
    """Inputs no processor can produce, built from config dims with a seeded generator.

    SYNTHESIZED, not processor output: only for forward parameters that the model needs and that
    no processor of the type produces (LXMERT's detector region features and boxes, which come
    from an external object detector). `spec` (the `inputs.synthesize` field of an override) maps
    a parameter name to {shape: [...], fill: randn|unit|zeros|ones|int|box, high: ...}; a shape
    entry (and `high`) is an int or an expression over "batch"/"seq" (from the processor's
    input_ids) and config attributes (see `_dim`). Parameters already in `kwargs` are never
    replaced.
    """
    import torch

    ids = kwargs.get("input_ids")
    dims = {"batch": _batch_size(kwargs), "seq": int(ids.shape[-1]) if ids is not None else 1}
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


def _generates_alone(model: Any) -> bool:
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
    kwargs = {k: v for k, v in inputs.items() if k not in _TARGETS and k != _SESSION}
    if 'startswith("thinker_")' in _class_source(type(model)):
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


def validate_model(model: Any, arch: str, inputs: dict[str, Any], mappings: tuple[str, ...],
                   generate: bool = True) -> bool:
    """Forward pass (+ generate for generative heads when `generate`); raise ValidationError on a
    failed forward, `LevelError("generate", …)` on a failed generate. Returns whether `generate` ran."""
    import torch

    from tinymodels.validate.levels import LevelError

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
            decoder = {k: v for k, v in _decoder_inputs(model, _batch_size(kwargs)).items() if k not in kwargs}
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
    return "\n".join(_class_source(c) for c in owners)


def generate_inputs(model: Any, inputs: dict[str, Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """What `generate` gets: the forward's inputs, unless the model's own generation code reads a
    processor output by name that they lack (Kyutai's generate encodes `input_values` into the
    codes its forward reads; VibeVoice's sampling reads the `attention_mask` its forward takes
    no part in): then the processor's outputs, as users call `model.generate(**inputs)`."""
    source = _generate_source(type(model))
    # Text ids that the forward does not read are a transcript (Whisper's processor tokenizes the
    # text it is given as the target), not a prompt.
    left_out = set(_TARGETS) | {_SESSION}
    if "input_ids" not in inspect.signature(model.forward).parameters:
        left_out.add("input_ids")
    missing = [k for k in inputs if k not in kwargs and k not in left_out and f'"{k}"' in source]
    if not missing:
        return kwargs
    return {k: v for k, v in inputs.items() if k not in left_out}


def generates(model: Any, arch: str, mappings: tuple[str, ...]) -> bool:
    """Whether the `generate` level applies: a generative head that generates on its own."""
    return is_generative(arch, mappings) and hasattr(model, "generate") and _generates_alone(model)
