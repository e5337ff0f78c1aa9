"""Model instantiation with a fixed seed, safetensors save and reload through the Auto classes."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any


def instantiate(arch: str, config: Any, seed: int) -> Any:
    """`Arch(config)` with every random draw seeded, so weights are byte-identical across runs."""
    import torch
    import transformers

    cls = getattr(transformers, arch)
    config = copy.deepcopy(config)
    if arch.endswith(("ForCausalLM", "LMHeadModel")):
        # Causal heads run as plain decoders, also for encoder-decoder types (WhisperForCausalLM…).
        if getattr(config, "is_encoder_decoder", False):
            config.is_encoder_decoder = False
        config.is_decoder = True
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
        model = auto.from_pretrained(path)
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
