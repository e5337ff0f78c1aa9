"""Model instantiation with a fixed seed, safetensors save and reload through the Auto classes."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from tinymodels.config.walk import declared_sub_configs

# The size budget of one checkpoint: 10 MB of float32 weights.
MAX_WEIGHT_BYTES: Final[int] = 10_000_000


class ModelTooLargeError(ValueError):
    """The tiny config still makes a model over the size budget."""


def check_size(cls: type, config: Any) -> int:
    """Count parameters on the meta device (no memory, no time) and enforce the budget.

    Returns the parameter count, or -1 when the model cannot be built on meta because its
    constructor reads tensor data (then `save` checks the budget on the real weights). Any other
    error is the config's or the class's, which the real build would raise too: it propagates,
    so a failure here never passes for "no size". Refusing early keeps a bad config from costing
    minutes and GBs.
    """
    import torch

    try:
        with torch.device("meta"), _pristine_model_args(config):
            probe = cls(config)
    except (NotImplementedError, RuntimeError) as exc:
        # Meta tensors hold no data: `.item()`, `.tolist()` or a copy-out in a constructor fail
        # only here ("Tensor.item() cannot be called on meta tensors", "Cannot copy out of meta tensor").
        if "meta" not in str(exc).lower():
            raise
        return -1
    n = sum(p.numel() for p in probe.parameters())
    if n * 4 > MAX_WEIGHT_BYTES:
        raise ModelTooLargeError(
            f"{cls.__name__} would have {n:,} parameters ({n * 4 / 1e6:.1f} MB), over the "
            f"{MAX_WEIGHT_BYTES / 1e6:.0f} MB budget: a width or vocabulary field was not shrunk "
            "(add a rule to shrink_rules.yaml or an entry to overrides.yaml)"
        )
    return n


def config_for(cls: type, config: Any) -> Any:
    """The config `cls` is declared for: a composite model type also maps text-only heads
    (Llama4ForCausalLM, MllamaTextModel…) whose `config_class` is one of its sub-configs; such
    a class gets that sub-config, as loading it from a text checkpoint would. A head whose
    config wraps any model's config (JevForDecision, registered for qwen2…) gets the type's
    config wrapped (`wrap_config`)."""
    want = getattr(cls, "config_class", None)
    if not isinstance(want, type) or isinstance(config, want):
        return config
    sub = next((sub for sub in declared_sub_configs(config) if type(sub) is want), None)
    if sub is not None:
        return sub
    subs = getattr(want, "sub_configs", None) or {}
    # A sibling also has the class's own fields: a composite holding a text_config is no
    # JevConfig (num_verbalizers…), which wraps it instead (`wrap_config`).
    own = _own_fields(want, subs)
    sibling = next((c for c in (config, *declared_sub_configs(config))
                    if subs and all(getattr(c, key, None) is not None for key in subs)
                    and all(hasattr(c, f) for f in own)), None)
    if sibling is not None:
        # A sibling config with the same sub-configs (Sam2VideoConfig for Sam2Model, sam3_video's
        # tracker_config for Sam3TrackerModel) already is what the class reads; wrapping it
        # would nest it as one of its own sub-configs.
        return sibling
    wrapped = wrap_config(want, config)
    return wrapped if wrapped is not None else config


def _own_fields(want: type, subs: dict[str, Any]) -> list[str]:
    """The fields `want` declares itself (not PreTrainedConfig's, not its sub-configs)."""
    from transformers import PreTrainedConfig

    base = set(getattr(PreTrainedConfig, "__dataclass_fields__", {}))
    return [f for f in getattr(want, "__dataclass_fields__", {}) if f not in base and f not in subs]


def wrap_config(want: type, config: Any) -> Any:
    """`want(<key>=config)` when `want` is a wrapper config holding any model's config as a
    sub-config, else None.

    A head registered under other model types (JevForDecision for qwen2, qwen3_5…) is declared
    for its own config (JevConfig), which wraps the model it reads as `text_config`. The wrapper's
    own fields that the wrapped text config also has (`hidden_size`, `initializer_range`) take
    the text config's values: the head reads the text model's hidden states.
    """
    from transformers import AutoConfig

    subs = getattr(want, "sub_configs", None) or {}
    key = next((k for k, c in subs.items() if c is AutoConfig or (isinstance(c, type) and isinstance(config, c))),
               None)
    if key is None:
        return None
    text = config.get_text_config() if hasattr(config, "get_text_config") else config
    text_fields = set(getattr(type(text), "__dataclass_fields__", {}))
    shared = {f: getattr(text, f) for f in _own_fields(want, subs) if f in text_fields}
    return want(**{key: config, **shared})


def model_class(arch: str, config: Any = None) -> type:
    """The model class `arch`: exported by transformers, else defined in the package of the
    config (sub-model classes such as `VoxtralRealtimeTextModel` are not all exported)."""
    import importlib

    import transformers

    try:
        return getattr(transformers, arch)
    except AttributeError:
        if config is None:
            raise
        package = type(config).__module__.rsplit(".", 1)[0]  # transformers.models.<name>
        try:
            module = importlib.import_module(f"{package}.modeling_{package.rsplit('.', 1)[1]}")
        except ImportError:
            raise AttributeError(f"transformers has no model class {arch}") from None
        cls = getattr(module, arch, None)
        if not isinstance(cls, type):
            raise
        return cls


def instantiate(arch: str, config: Any, seed: int) -> Any:
    """`Arch(config)` with every random draw seeded, so weights are byte-identical across runs."""
    import torch

    cls = model_class(arch, config)
    config = copy.deepcopy(config_for(cls, config))
    if arch.endswith(("ForCausalLM", "LMHeadModel", "WithLMHead")):
        # Causal heads run as plain decoders, also for encoder-decoder types (WhisperForCausalLM…).
        if getattr(config, "is_encoder_decoder", False):
            config.is_encoder_decoder = False
        config.is_decoder = True
    elif arch.endswith("EncoderModel") and getattr(config, "is_encoder_decoder", False):
        # Encoder-only heads of encoder-decoder types (T5GemmaEncoderModel) refuse a seq2seq config.
        config.is_encoder_decoder = False
    check_size(cls, config)
    torch.manual_seed(seed)
    with _pristine_model_args(config), _nan_filled_empty():
        model = cls(config)
    _init_left_uninitialized(model, config)
    dtype = getattr(config, "dtype", None)
    dtype = getattr(torch, dtype, None) if isinstance(dtype, str) else dtype
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point and dtype != torch.float32:
        # A config naming a half dtype (Llama 4: its image processor emits bfloat16 pixels) is a
        # checkpoint saved, and loaded back ("auto"), in that dtype.
        model = model.to(dtype)
    model.eval()
    return model


@contextlib.contextmanager
def _nan_filled_empty() -> Iterator[None]:
    """Make `torch.empty` fill floats with NaN while a model is built, so that parameters its
    `_init_weights` never touches (Qwen3-Omni's talker experts) are told apart from initialized
    ones instead of holding whatever memory they got (different on every run, sometimes NaN)."""
    import torch

    deterministic = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    fill = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.utils.deterministic.fill_uninitialized_memory = fill
        torch.use_deterministic_algorithms(deterministic, warn_only=warn_only)


def _init_left_uninitialized(model: Any, config: Any) -> None:
    """Draw the parameters the model's own init left unwritten (all NaN after `_nan_filled_empty`)
    from the seeded generator, with the config's initializer_range (as `_init_weights` would)."""
    import torch

    std = getattr(config, "initializer_range", None)
    if not isinstance(std, float):
        try:
            std = getattr(config.get_text_config(), "initializer_range", None)
        except (AttributeError, ValueError):  # no text config, or several (MusicGen: text encoder + decoder)
            std = None
    std = std if isinstance(std, float) else 0.02
    with torch.no_grad():
        for param in model.parameters():
            if param.is_floating_point() and param.numel() and torch.isnan(param).all():
                param.normal_(0.0, std)
        for buffer in model.buffers():
            # A buffer nothing wrote held stale memory before; zeros are its neutral value.
            if buffer.is_floating_point() and buffer.numel() and torch.isnan(buffer).all():
                buffer.zero_()


@contextlib.contextmanager
def _pristine_model_args(config: Any) -> Iterator[None]:
    """Restore the configs' timm `model_args` after building a model from them.

    timm's block builders consume nested block specs in place (`block_args` dicts lose their
    `block_type`), so a config whose tower was built once could neither build again nor be
    saved for a reload.
    """
    saved = [(cfg, copy.deepcopy(cfg.model_args)) for cfg in (config, *declared_sub_configs(config))
             if isinstance(getattr(cfg, "model_args", None), dict)]
    try:
        yield
    finally:
        for cfg, args in saved:
            cfg.model_args = args


def save(model: Any, path: Path) -> None:
    """Save weights as safetensors plus config (and generation config when present), and the
    side files the class's `from_pretrained` requires (see `write_speakers`); then enforce the
    size budget on the weights as saved (`check_size` cannot count a model it could not build
    on meta)."""
    model.save_pretrained(path, safe_serialization=True)
    write_speakers(model, path)
    size = weights_bytes(path)
    if size > MAX_WEIGHT_BYTES:
        raise ModelTooLargeError(
            f"{type(model).__name__} saved {size / 1e6:.1f} MB of weights, over the {MAX_WEIGHT_BYTES / 1e6:.0f} MB "
            "budget: a width or vocabulary field was not shrunk (add a rule to shrink_rules.yaml or an entry to "
            "overrides.yaml)"
        )


SPEAKER_FILE: Final = "spk_dict.pt"


def write_speakers(model: Any, path: Path) -> bool:
    """Write the speaker file that speech-generating models with a `speaker_map` (Qwen2.5-Omni) load
    in `from_pretrained` and cannot load without: one speaker, named as `generate`'s default one,
    with the talker's text start token, a zero speaker embedding and a short zero reference mel of
    the code-to-wave decoder's sizes. Returns whether a file was written."""
    import inspect

    import torch

    if not (hasattr(model, "load_speakers") and isinstance(getattr(model, "speaker_map", None), dict)):
        return False
    speaker = inspect.signature(model.generate).parameters.get("speaker")
    dit = getattr(getattr(model.config, "token2wav_config", None), "dit_config", None)
    talker = getattr(model.config, "talker_config", None)
    if speaker is None or not isinstance(speaker.default, str) or dit is None or talker is None:
        return False
    params = {
        "bos_token": int(talker.tts_text_start_token_id),
        "cond": torch.zeros(1, dit.enc_emb_dim),
        # Long enough for the speaker encoder's dilated, reflect-padded convolutions.
        "ref_mel": torch.zeros(1, 32, dit.mel_dim),
    }
    torch.save({speaker.default: params}, path / SPEAKER_FILE)
    return True


def reload(arch: str, path: Path, mappings: tuple[str, ...]) -> Any:
    """Reload through the Auto class of the first mapping that registers `arch`."""
    import transformers

    from tinymodels.config.discover import auto_class_name

    for mapping in mappings:
        try:
            auto = getattr(transformers, auto_class_name(mapping))
        except LookupError:
            continue
        try:
            model = auto.from_pretrained(path)
        except ValueError as exc:
            # A text-only head saved with its sub-config (`config_for`) has a model type the
            # composite's Auto mapping may not list: the class itself loads it.
            if "Unrecognized configuration class" not in str(exc):
                raise
            break
        if type(model).__name__ != arch:
            raise RuntimeError(f"{auto.__name__} loaded {type(model).__name__}, expected {arch}")
        return model
    return getattr(transformers, arch).from_pretrained(path)


def count_params(model: Any) -> int:
    """Number of parameters (tied weights counted once)."""
    return sum(p.numel() for p in model.parameters())


def weights_bytes(path: Path) -> int:
    """Bytes of the safetensors weights in a checkpoint folder."""
    return sum(f.stat().st_size for f in path.glob("*.safetensors"))
