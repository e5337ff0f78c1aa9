"""Validation levels: what a build checks of each architecture, recorded per architecture.

Every architecture is loaded back through the Auto classes (`load`); the other levels run when
selected (`--validate`) and when they apply to the architecture:

- `forward`: a forward pass on the model's own processor output, every output finite;
- `generate`: a short greedy `generate` for generative heads;
- `pipeline`: `transformers.pipeline(task, model=<folder>)` for every task whose auto class maps
  the architecture, on a batch of 1 and a padded batch of 2;
- `chat`: chat template → processor → `generate` for chat-capable models (and the
  image-text-to-text pipeline with chat messages);
- `train`: one optimizer step with labels of the head's kind on a padded batch of 2.

The creation report records `levels: {level: "ok" | {task: "ok"}}` per architecture; a failed
level makes the architecture fail with `level` and `category` set to that level. The errors of
validation live here, below every level's module: `ValidationError` (a check found the model
broken), `LevelError` (a level failed) and `LevelSkipped`.
"""

from __future__ import annotations

import difflib
from typing import Final

from tinymodels.errors import UsageError

LEVELS: Final[tuple[str, ...]] = ("load", "forward", "generate", "pipeline", "chat", "train")
ALL: Final[frozenset[str]] = frozenset(LEVELS)
OK: Final[str] = "ok"
FAILED: Final[str] = "failed"


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


class ValidationError(RuntimeError):
    """The model did not pass validation (the message says where)."""


class LevelError(RuntimeError):
    """A validation level failed; `level` names it (the builder reports it as the stage), `error`
    is the original exception (its traceback goes in the report)."""

    def __init__(self, level: str, error: BaseException, detail: str = "") -> None:
        super().__init__(f"{detail}: {error}" if detail else str(error))
        self.level = level
        self.error = error
        self.detail = detail


class LevelSkipped(Exception):  # noqa: N818 - an outcome, not an error
    """A level that does not apply to an architecture after all; the message says why."""
