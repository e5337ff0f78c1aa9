"""Composite models (encoder-decoder pairs), named as upstream: `EncoderDecoderModel-bert-bert`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tinymodels.options import BuildOptions


def build_composite(model_type: str, options: BuildOptions, out_dir: Path) -> tuple[str, dict[str, Any]]:
    """Not built yet: reported as a failure with a reason instead of silently dropped."""
    from tinymodels.discover import COMPOSITES, architectures_for, config_class

    enc, dec = COMPOSITES[model_type]
    archs = architectures_for(model_type)
    msg = f"composite {model_type} ({enc}+{dec}) is not supported yet"
    entry: dict[str, Any] = {
        "model_type": model_type,
        "processor": {},
        "pytorch": {f"{a}": {"model": None, "checkpoint": None, "error": [msg, None], "category": "composite"}
                    for a in archs},
        "error": [msg, None],
    }
    return config_class(model_type).__name__, entry
