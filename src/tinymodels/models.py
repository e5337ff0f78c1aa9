"""Model instantiation with a fixed seed, safetensors save and reload through the Auto classes."""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

# The size budget of one checkpoint: 10 MB of float32 weights.
MAX_WEIGHT_BYTES: Final[int] = 10_000_000


class ModelTooLargeError(ValueError):
    """The tiny config still makes a model over the size budget."""


def check_size(cls: type, config: Any) -> int:
    """Count parameters on the meta device (no memory, no time) and enforce the budget.

    Returns the parameter count, or -1 when the model cannot be built on meta (then the
    real build decides). Refusing early keeps a bad config from costing minutes and GBs.
    """
    import torch

    try:
        with torch.device("meta"), _pristine_model_args(config):
            probe = cls(config)
    except Exception:
        return -1
    n = sum(p.numel() for p in probe.parameters())
    if n * 4 > MAX_WEIGHT_BYTES:
        raise ModelTooLargeError(
            f"{cls.__name__} would have {n:,} parameters ({n * 4 / 1e6:.1f} MB), over the "
            f"{MAX_WEIGHT_BYTES / 1e6:.0f} MB budget: a width or vocabulary field was not shrunk "
            "(add a rule to shrink_rules.yaml or an entry to overrides.yaml)"
        )
    return n


def _sub_configs(config: Any) -> list[Any]:
    """The sub-configs of a composite config, depth first (`text_config`, `decoder`…)."""
    out: list[Any] = []
    for key in getattr(config, "sub_configs", None) or {}:
        sub = getattr(config, key, None)
        if sub is not None and hasattr(sub, "to_dict"):
            out.append(sub)
            out.extend(_sub_configs(sub))
    return out


def config_for(cls: type, config: Any) -> Any:
    """The config `cls` is declared for: a composite model type also maps text-only heads
    (Llama4ForCausalLM, MllamaTextModel…) whose `config_class` is one of its sub-configs; such
    a class gets that sub-config, as loading it from a text checkpoint would. A head whose
    config wraps any model's config (JevForDecision, registered for qwen2…) gets the type's
    config wrapped (`wrap_config`)."""
    want = getattr(cls, "config_class", None)
    if not isinstance(want, type) or isinstance(config, want):
        return config
    sub = next((sub for sub in _sub_configs(config) if type(sub) is want), None)
    if sub is not None:
        return sub
    subs = getattr(want, "sub_configs", None) or {}
    # A sibling also has the class's own fields: a composite holding a text_config is no
    # JevConfig (num_verbalizers…), which wraps it instead (`wrap_config`).
    own = _own_fields(want, subs)
    sibling = next((c for c in (config, *_sub_configs(config))
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
    with _pristine_model_args(config):
        model = cls(config)
    model.eval()
    return model


@contextlib.contextmanager
def _pristine_model_args(config: Any) -> Iterator[None]:
    """Restore the configs' timm `model_args` after building a model from them.

    timm's block builders consume nested block specs in place (`block_args` dicts lose their
    `block_type`), so a config whose tower was built once could neither build again nor be
    saved for a reload.
    """
    saved = [(cfg, copy.deepcopy(cfg.model_args)) for cfg in (config, *_sub_configs(config))
             if isinstance(getattr(cfg, "model_args", None), dict)]
    try:
        yield
    finally:
        for cfg, args in saved:
            cfg.model_args = args


def save(model: Any, path: Path) -> None:
    """Save weights as safetensors plus config (and generation config when present)."""
    model.save_pretrained(path, safe_serialization=True)


def reload(arch: str, path: Path, mappings: tuple[str, ...]) -> Any:
    """Reload through the Auto class of the first mapping that registers `arch`."""
    import transformers

    from tinymodels.discover import auto_class_name

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
