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

The level names and `--validate` parsing are options (`tinymodels.options`). The creation report records `levels: {level: "ok" | {task: "ok"}}` per architecture; a failed
level makes the architecture fail with `level` and `category` set to that level. The errors of
validation live here, below every level's module: `ValidationError` (a check found the model
broken), `LevelError` (a level failed) and `LevelSkipped`.
"""

from __future__ import annotations

from typing import Final

OK: Final[str] = "ok"
FAILED: Final[str] = "failed"


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
