"""Resolved, immutable build options shared by every pipeline stage."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tinymodels.validate.levels import ALL as ALL_LEVELS

DEFAULT_OUTPUT: Final[str] = "tiny-models"
DEFAULT_VOCAB_SIZE: Final[int] = 1024
DEFAULT_SEED: Final[int] = 42
DEFAULT_CORPUS: Final[str] = "builtin"
DEFAULT_TIMEOUT: Final[float] = 600.0


@dataclass(frozen=True)
class BuildOptions:
    """Everything that decides what a build produces (and so its fingerprint)."""

    output: Path = Path(DEFAULT_OUTPUT)
    model_types: tuple[str, ...] = ()
    skip: frozenset[str] = field(default_factory=frozenset)
    vocab_size: int = DEFAULT_VOCAB_SIZE
    corpus: str = DEFAULT_CORPUS
    seed: int = DEFAULT_SEED
    num_workers: int = 1
    timeout: float = DEFAULT_TIMEOUT
    force: bool = False
    transformers_repo: Path | None = None
    # Validation levels to run (`fidelity.levels`); every level by default.
    validate: frozenset[str] = ALL_LEVELS
    # Where tokenizers/processors come from: "blank" (trained offline) or "original" (`originals.py`).
    tokenizer_source: str = "blank"
    # User-named original checkpoints, sorted (model type, repo id or local folder) pairs.
    originals: tuple[tuple[str, str], ...] = ()

    @property
    def report_dir(self) -> Path:
        return self.output / "reports"
