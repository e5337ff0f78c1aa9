"""Resolved, immutable build options shared by every pipeline stage."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from tinymodels.errors import UsageError

DEFAULT_OUTPUT: Final[str] = "tiny-models"
DEFAULT_VOCAB_SIZE: Final[int] = 1024
DEFAULT_SEED: Final[int] = 42
DEFAULT_CORPUS: Final[str] = "builtin"
DEFAULT_TIMEOUT: Final[float] = 600.0

# Validation levels, in the order they run (`validate/levels.py` says what each checks).
LEVELS: Final[tuple[str, ...]] = ("load", "forward", "generate", "pipeline", "chat", "train")
ALL: Final[frozenset[str]] = frozenset(LEVELS)


def parse_levels(text: str) -> frozenset[str]:
    """`--validate` value → the selected levels: `all`, or a comma-separated list (`load` is
    always included: nothing is validated without loading it back)."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("--validate needs a level: 'all' or a comma-separated list of " + ", ".join(LEVELS))
    if names == ["all"]:
        return ALL
    unknown = [n for n in names if n not in LEVELS]
    if unknown:
        hints = [f"{n!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(n, LEVELS, n=1)) else repr(n)
                 for n in unknown]
        raise UsageError(f"--validate: unknown level(s) {', '.join(hints)}; choose from all, {', '.join(LEVELS)}")
    return frozenset({"load", *names})


def spelled(levels: frozenset[str]) -> str:
    """The canonical spelling of a selection (fingerprints, logs): `all` or the levels in order."""
    return "all" if levels == ALL else ",".join(n for n in LEVELS if n in levels)


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
    # Validation levels to run (`LEVELS`); every level by default.
    validate: frozenset[str] = ALL
    # Where tokenizers/processors come from: "blank" (trained offline) or "original" (`originals.py`).
    tokenizer_source: str = "blank"
    # User-named original checkpoints, sorted (model type, repo id or local folder) pairs.
    originals: tuple[tuple[str, str], ...] = ()

    @property
    def report_dir(self) -> Path:
        return self.output / "reports"
