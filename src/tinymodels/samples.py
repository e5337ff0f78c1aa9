"""Deterministic sample inputs (text, image, audio, video) for validation."""

from __future__ import annotations

from typing import Any

SAMPLE_TEXT = "Hello world! This tiny model reads a short sentence, café 123."
SAMPLING_RATE = 16_000


def sample_image(size: int = 64) -> Any:
    """A deterministic RGB gradient image."""
    import numpy as np
    from PIL import Image

    y, x = np.mgrid[0:size, 0:size]
    arr = np.stack([x * 255 // size, y * 255 // size, (x + y) * 127 // size], axis=-1).astype("uint8")
    return Image.fromarray(arr, mode="RGB")


def sample_audio(seconds: float = 1.0, sampling_rate: int = SAMPLING_RATE) -> Any:
    """A deterministic 440 Hz tone with a little harmonic content, float32 mono."""
    import numpy as np

    t = np.arange(int(seconds * sampling_rate), dtype=np.float32) / sampling_rate
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.1 * np.sin(2 * np.pi * 880 * t)).astype(np.float32)


def sample_video(frames: int = 8, size: int = 32) -> Any:
    """A deterministic list of frames (numpy HWC uint8) of a moving gradient."""
    import numpy as np

    out = []
    for f in range(frames):
        y, x = np.mgrid[0:size, 0:size]
        out.append(np.stack([(x + f * 4) % 256, (y * 3) % 256, (x * y + f) % 256], axis=-1).astype("uint8"))
    return out
