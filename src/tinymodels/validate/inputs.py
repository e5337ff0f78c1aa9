"""A model's inputs from its own processors: the processor call and what `forward` gets of it.

The processors run on the sample text, image, audio or video, with the placeholders and call
arguments a type's data names (`processor_inputs`); their output is kept to the `forward`
parameters, under the names and in the shapes the model reads (`model_inputs`). Video trackers
whose forward takes an inference session get a session maker built on their processor
(`VideoSessions`). Inputs no processor makes are `validate.synthesized`'s.
"""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Hashable
from typing import Any, cast

from tinymodels.preprocess.processors import Processors
from tinymodels.preprocess.samples import (
    SAMPLE_TEXT,
    SAMPLING_RATE,
    call_samples,
    sample_audio,
    sample_image,
    sample_video,
)


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


def call_variants(processor: Any, text_template: str | None,
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
    for variant in call_variants(processor, text_template, placeholders):
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
        out[SESSION] = VideoSessions(processor)
    return out


# The key under which processor inputs carry a video tracker's session maker (not a tensor).
SESSION = "inference_session"


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
TARGETS = frozenset({"labels", "label", "decoder_labels"})


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


def pixel_rank(model: Any) -> int | None:
    """The `pixel_values` rank the model unpacks: from its own class's code (a VLM's 5-D image
    batches), else, for models without text input only (vision towers: a VLM's own code decides
    for its tower), from the first submodule that unpacks it (the patch embedding)."""
    own = _PIXEL_UNPACK.search(class_source(type(model)))
    if own:
        return own.group(1).count(",") + 1
    if "input_ids" in inspect.signature(model.forward).parameters:
        return None
    seen: set[type] = {type(model)}
    for module in model.modules():
        if type(module) in seen:
            continue
        seen.add(type(module))
        found = _PIXEL_UNPACK.search(class_source(type(module)))
        if found:
            return found.group(1).count(",") + 1
    return None


def class_source(cls: type) -> str:
    """The source of a class, or "" when it has none. Cached: every architecture of a type asks for
    the same classes (the model's and each sub-module's), and `inspect.getsource` re-tokenizes the
    whole module each time."""
    return _cached_source(cast(Hashable, cls))  # cast: mypy takes type[Any] for unhashable


@functools.cache
def _cached_source(cls: Any) -> str:
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


def _match_pixel_rank(model: Any, out: dict[str, Any]) -> None:
    """Composite processors batch images as (batch, images, C, H, W) and X-CLIP's cuts a clip into
    (frames, C, H, W); a model unpacking one dimension fewer (a VLM's vision tower) gets the images
    flattened, one dimension more (a video model) gets them as one batch."""
    pixels: Any = out.get("pixel_values")  # (Any: the hasattr check rules None out)
    if not hasattr(pixels, "dim") or pixels.dim() not in (4, 5):
        return
    rank = pixel_rank(model)
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
    out = {k: v for k, v in inputs.items() if k in params and k not in TARGETS}
    for name, sources in _INPUT_ALIASES.items():
        if name in params and name not in out:
            # Only under another name when the model has no parameter of the source's own name.
            found = next((inputs[s] for s in sources if s in inputs and s not in params), None)
            if found is not None:
                out[name] = found
    for name, source in _INVERTED_ALIASES.items():
        if name in params and name not in out and source in inputs and source not in params:
            out[name] = ~inputs[source].bool()
    if SESSION in params and isinstance(inputs.get(SESSION), VideoSessions):
        # A tracker runs on a session, on its prompted first frame; the clip's tensors live in it.
        out = {SESSION: inputs[SESSION](), "frame_idx": 0}
    if out:
        for name, param in params.items():
            # A parameter without default but typed optional (Phi-4's audio encoder `mask: Tensor |
            # None`): its parent passes None when it has none, so do we.
            if name not in out and param.default is param.empty and param.kind is param.POSITIONAL_OR_KEYWORD \
                    and name != "self" and _optional(param):
                out[name] = None
    _match_pixel_rank(model, out)
    patches: Any  # (Any: the hasattr checks below rule None out)
    pixels: Any
    patches, pixels = out.get("patch_attention_mask"), out.get("pixel_values")
    if hasattr(patches, "dim") and hasattr(pixels, "dim") and patches.dim() == pixels.dim():
        # A patch mask per crop (batch, crops, h, w) follows crops flattened into the batch.
        out["patch_attention_mask"] = patches.flatten(0, 1).bool()
    mask: Any  # (Any: the hasattr checks below rule None out)
    ids: Any
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


def batch_size(kwargs: dict[str, Any]) -> int:
    """The batch size of model inputs: the first dimension of the first non-scalar tensor."""
    first = next((v for v in kwargs.values() if hasattr(v, "dim") and v.dim() > 0), None)
    return int(first.shape[0]) if first is not None else 1


def forward_parameters(model: Any) -> set[str]:
    """The names of the model's `forward` parameters (`**kwargs` names none)."""
    params = inspect.signature(model.forward).parameters.values()
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
