"""tinymodels: offline, deterministic, validated tiny-random checkpoints for transformers."""

from __future__ import annotations

__version__ = "0.1.0"
