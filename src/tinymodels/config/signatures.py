"""What a model type's architectures read, from their `forward` signatures.

Building and validating both ask which inputs an architecture takes (token ids, media, images):
the answer comes from the exported class's `forward` parameters, never from per-type data.
"""

from __future__ import annotations

import re
from typing import Any

# Forward parameters carrying media (pixels, patches, audio features or waveforms; Pix2Struct-style
# flattened patches).
MEDIA_INPUT = re.compile(r"pixel_values|^input_features$|^input_values$|^audio_values$|^grid_thw$|^flattened_patches$")
# Forward parameters carrying images (pixels, or a vision tower's flattened patches with their grid).
IMAGE_INPUT = re.compile(r"pixel_values$|^grid_thw$")


def forward_of(arch: str) -> Any:
    """`transformers.<arch>.forward`, or None when the class is not exported or is a placeholder of
    a library that is not installed (those raise ImportError on any attribute)."""
    import transformers

    try:
        return getattr(getattr(transformers, arch, None), "forward", None)
    except ImportError:
        return None


def forward_params(model_type: str) -> list[set[str]]:
    """The `forward` parameter names of each architecture of the type; empty when it has none or
    any architecture's class cannot be inspected (then no rule about all of them holds)."""
    import inspect

    from tinymodels.config.discover import architecture_mappings

    forwards = [forward_of(a) for a in architecture_mappings(model_type)]
    if not forwards or any(f is None for f in forwards):
        return []
    return [set(inspect.signature(f).parameters) for f in forwards]


def is_media_only(model_type: str) -> bool:
    """True when every architecture's `forward` takes a media input and no token ids: an audio
    encoder sub-model (`voxtral_encoder`) keeps its parent's `vocab_size` but reads no text, and a
    tokenizer's text `attention_mask` would be passed to it as an audio mask."""
    params = forward_params(model_type)
    return bool(params) and all(any(MEDIA_INPUT.search(n) for n in p) and not any(n.endswith("input_ids") for n in p)
                                for p in params)


def is_text_only(model_type: str) -> bool:
    """True when every architecture's `forward` takes `input_ids` and no media input."""
    params = forward_params(model_type)
    return bool(params) and all("input_ids" in p and not any(MEDIA_INPUT.search(n) for n in p) for p in params)


def reads_text_and_media(model_type: str) -> bool:
    """True when every architecture's `forward` takes `input_ids` and a media input."""
    params = forward_params(model_type)
    return bool(params) and all("input_ids" in p and any(MEDIA_INPUT.search(n) for n in p) for p in params)


def takes_images(model_type: str) -> bool:
    """True when some architecture's `forward` takes an image input."""
    import inspect

    from tinymodels.config.discover import architecture_mappings

    for arch in architecture_mappings(model_type):
        forward = forward_of(arch)
        if forward is not None and any(IMAGE_INPUT.search(n) for n in inspect.signature(forward).parameters):
            return True
    return False
