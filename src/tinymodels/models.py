"""Model instantiation with a fixed seed, safetensors save and reload through the Auto classes."""

from __future__ import annotations

import copy
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
        with torch.device("meta"):
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
    a class gets that sub-config, as loading it from a text checkpoint would."""
    want = getattr(cls, "config_class", None)
    if not isinstance(want, type) or isinstance(config, want):
        return config
    return next((sub for sub in _sub_configs(config) if type(sub) is want), config)


def instantiate(arch: str, config: Any, seed: int) -> Any:
    """`Arch(config)` with every random draw seeded, so weights are byte-identical across runs."""
    import torch
    import transformers

    cls = getattr(transformers, arch)
    config = copy.deepcopy(config_for(cls, config))
    if arch.endswith(("ForCausalLM", "LMHeadModel", "WithLMHead")):
        # Causal heads run as plain decoders, also for encoder-decoder types (WhisperForCausalLM…).
        if getattr(config, "is_encoder_decoder", False):
            config.is_encoder_decoder = False
        config.is_decoder = True
    check_size(cls, config)
    torch.manual_seed(seed)
    model = cls(config)
    model.eval()
    return model


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
