"""Deterministic sample inputs (text, image, audio, video) for validation."""

from __future__ import annotations

from typing import Any

SAMPLE_TEXT = "Hello world! This tiny model reads a short sentence, café 123."
# A shorter text beside SAMPLE_TEXT makes a batch of two that needs padding.
SHORT_TEXT = "Hello world!"
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


def sample_music(seconds: float = 6.0, sampling_rate: int = 22_050) -> Any:
    """A deterministic 6 s tone with a click every half second: a beat a rhythm tracker finds
    (music models that cut audio at beats find none in the plain 1 s tone)."""
    audio = sample_audio(seconds, sampling_rate)
    for start in range(0, len(audio), sampling_rate // 2):
        audio[start:start + 200] += 0.9
    return audio


def sample_video(frames: int = 8, size: int = 32) -> Any:
    """A deterministic list of frames (numpy HWC uint8) of a moving gradient."""
    import numpy as np

    out = []
    for f in range(frames):
        y, x = np.mgrid[0:size, 0:size]
        out.append(np.stack([(x + f * 4) % 256, (y * 3) % 256, (x * y + f) % 256], axis=-1).astype("uint8"))
    return out


def sample_words() -> list[str]:
    """The sample text as words, for processors that take OCR output (words plus boxes)."""
    return SAMPLE_TEXT.split()


def sample_word_boxes() -> list[list[int]]:
    """One box per sample word, in the 0-1000 normalized page coordinates document models use:
    words laid left to right on lines of four."""
    boxes = []
    for i, _ in enumerate(sample_words()):
        x, y = (i % 4) * 240 + 10, (i // 4) * 100 + 10
        boxes.append([x, y, x + 200, y + 60])
    return boxes


def sample_image_pair(size: int = 64) -> list[Any]:
    """Two views of one scene (the gradient image and its mirror), for keypoint matchers."""
    from PIL import ImageOps

    image = sample_image(size)
    return [image, ImageOps.mirror(image)]


def sample_trimap(size: int = 64) -> Any:
    """A matting trimap (grayscale: 0 background, 128 unknown, 255 foreground): a foreground
    square inside an unknown band, on background."""
    import numpy as np
    from PIL import Image

    arr = np.zeros((size, size), dtype="uint8")
    arr[size // 8: -size // 8, size // 8: -size // 8] = 128
    arr[size // 4: -size // 4, size // 4: -size // 4] = 255
    return Image.fromarray(arr, mode="L")


def sample_segmentation_map(size: int = 64) -> Any:
    """A segmentation map (class index per pixel: a class-1 square on class 0), for in-context
    segmenters' prompt masks."""
    import numpy as np

    arr = np.zeros((size, size), dtype="uint8")
    arr[size // 4: -size // 4, size // 4: -size // 4] = 1
    return arr


def sample_person_boxes(size: int = 64) -> list[list[list[float]]]:
    """One person box per image ([x, y, width, height] in pixels of the sample image), for
    top-down pose estimators."""
    return [[[size / 8, size / 16, size / 2, size * 7 / 8]]]


# A question about the sample text, for extractive question answering (question + context pairs).
SAMPLE_QUESTION = "What does the tiny model read?"
SAMPLE_HTML = ("<html><head><title>Tiny page</title></head><body><h1>Hello world</h1>"
               "<p>This tiny model reads a short sentence.</p><p>café 123</p></body></html>")
# A short protein: its amino acids and, per residue, a 3Di structure letter (lowercase).
SAMPLE_PROTEIN = {"aa_seq": "MKTAYIAKQR", "foldseek": "dpvvqlvvcv"}


def sample_messages() -> list[list[dict[str, str]]]:
    """One chat (system + user turns) about the sample protein."""
    return [[{"role": "system", "content": "You are a protein expert."},
             {"role": "user", "content": SAMPLE_TEXT}]]


# Sample kinds per-type data can name as processor call arguments (`inputs.call` in the overrides):
# kind -> maker. Each call makes a fresh value.
CALL_SAMPLES: dict[str, Any] = {
    "text": lambda: SAMPLE_TEXT,
    "question": lambda: SAMPLE_QUESTION,
    "words": sample_words,
    "word_boxes": sample_word_boxes,
    "image": sample_image,
    "image_pair": sample_image_pair,
    "video": sample_video,
    "trimap": sample_trimap,
    "segmentation_map": sample_segmentation_map,
    "person_boxes": sample_person_boxes,
    "semantic_task": lambda: ["semantic"],
    "html": lambda: SAMPLE_HTML,
    "proteins": lambda: [dict(SAMPLE_PROTEIN)],
    "protein_sequence": lambda: SAMPLE_PROTEIN["aa_seq"],
    "messages": sample_messages,
    "language": lambda: "en",  # a language code (speech recognition prompts)
    "music": sample_music,
    "audio": sample_audio,  # the 1 s sample tone, for processors given a second medium
    # A processor switch turned on (FLAVA's `return_codebook_pixels`, for its pre-training head).
    "switch_on": lambda: True,
    # 1.03 s of the sample tone: 104 spectrogram frames at the usual 10 ms hop (a centered STFT
    # gives 1 + samples // hop), a whole number of groups for encoders that subsample by 8.
    "audio_104_frames": lambda: sample_audio(seconds=1.03),
}


def call_samples(call: dict[str, str | None]) -> dict[str, Any]:
    """Processor call arguments from `{argument: sample kind}` (None: leave the argument out)."""
    unknown = sorted(str(k) for k in call.values() if k is not None and k not in CALL_SAMPLES)
    if unknown:
        raise ValueError(f"unknown sample kind(s) {unknown}; known: {sorted(CALL_SAMPLES)}")
    return {name: None if kind is None else CALL_SAMPLES[kind]() for name, kind in call.items()}
