"""Build stages: a failure tagged with the stage it happened in, and the result entries it makes.

Every step of a build runs through `run_stage`, so any exception becomes a `StageError` whose
stage doubles as the failure category in the reports; `fail_all`, `skipped_entry` and
`nothing_to_build` turn one into the upstream result entries of the architectures it stops.
"""

from __future__ import annotations

import traceback
from typing import Any

from tinymodels.errors import scrub

# Stage names double as failure categories in the reports.
STAGES = ("skipped", "missing-dependency", "config", "tokenizer", "processor", "instantiate", "save-reload",
          "forward", "generate", "pipeline", "chat", "train")


class StageError(RuntimeError):
    """A failure tagged with the pipeline stage it happened in."""

    def __init__(self, stage: str, exc: BaseException, detail: str = "") -> None:
        super().__init__(scrub(f"{detail + ': ' if detail else ''}{type(exc).__name__}: {exc}"))
        self.stage = stage
        self.trace = scrub("".join(traceback.format_exception(exc)))
        self.category = categorize(stage, exc)
        # Levels the architecture passed before this failure (`validate.check.run_levels`).
        self.levels: dict[str, Any] = {}


def categorize(stage: str, exc: BaseException) -> str:
    """Failure category: missing optional libraries are told apart from real failures."""
    text = str(exc)
    if isinstance(exc, ImportError) or "library but it was not found" in text or "requires the" in text and "library" in text:
        return "missing-dependency"
    return stage


def run_stage(stage: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
    """`fn(*args, **kwargs)`, any failure raised as a `StageError` of `stage`."""
    from tinymodels.validate.levels import LevelError

    try:
        return fn(*args, **kwargs)
    except StageError:
        raise
    except LevelError as exc:
        # A later validation level failed: it is the stage, and its own exception the cause.
        raise StageError(exc.level, exc.error, exc.detail) from exc.error
    except Exception as exc:
        raise StageError(stage, exc) from exc


def error_entry(err: StageError) -> dict[str, Any]:
    """The result entry of one architecture stopped by `err`."""
    from tinymodels.options import LEVELS
    from tinymodels.validate.levels import FAILED

    out: dict[str, Any] = {"model": None, "checkpoint": None, "error": [f"[{err.stage}] {err}", err.trace],
                           "category": err.category}
    if err.stage in LEVELS:
        out["level"] = err.stage
        if err.stage != "pipeline":  # a failed pipeline task is marked in its own map
            err.levels[err.stage] = FAILED
    if err.levels:
        out["levels"] = err.levels
    return out


def skipped_entry(reason: str) -> dict[str, Any]:
    """The result entry of an architecture not built, for `reason`."""
    err = StageError("skipped", RuntimeError(reason))
    err.category = "skipped"
    return error_entry(err)


def fail_all(entry: dict[str, Any], err: StageError, archs: list[str]) -> None:
    """Record in the type's `entry` a failure that stops every architecture of `archs`."""
    entry["error"] = [f"[{err.stage}] {err}", err.trace]
    entry["pytorch"] = {a: error_entry(err) for a in archs}


def nothing_to_build(entry: dict[str, Any], override: Any, archs: list[str]) -> bool:
    """Fill `entry` for a type skipped by the overrides or without architectures; True if so."""
    if override and override.skip:
        entry["error"] = [f"[skipped] {override.reason}", None]
        entry["pytorch"] = {a: skipped_entry(override.reason) for a in archs}
        return True
    if not archs:
        entry["error"] = ["no architecture to build (none registered in an auto model mapping, or all skipped)", None]
        return True
    return False
