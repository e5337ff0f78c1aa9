"""Console output: CI detection, GitHub log folding and annotations."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Final

from tinymodels import environment

IN_GITHUB_ACTIONS: Final[bool] = environment.in_github_actions()
IN_CI: Final[bool] = environment.in_ci()


def info(msg: str) -> None:
    """Print a progress/info line to stderr (stdout is kept for results)."""
    print(msg, file=sys.stderr, flush=True)


def warning(msg: str) -> None:
    """Print a warning, as a GitHub annotation when running in Actions."""
    prefix = "::warning::" if IN_GITHUB_ACTIONS else "warning: "
    print(f"{prefix}{msg}", file=sys.stderr, flush=True)


def error(msg: str) -> None:
    """Print an error, as a GitHub annotation when running in Actions."""
    prefix = "::error::" if IN_GITHUB_ACTIONS else "error: "
    print(f"{prefix}{msg}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def group(title: str) -> Iterator[None]:
    """Fold the enclosed output in GitHub Actions logs; a plain header elsewhere."""
    if IN_GITHUB_ACTIONS:
        print(f"::group::{title}", file=sys.stderr, flush=True)
    else:
        info(f"== {title}")
    try:
        yield
    finally:
        if IN_GITHUB_ACTIONS:
            print("::endgroup::", file=sys.stderr, flush=True)


def append_github_file(env_var: str, text: str, env: dict[str, str] | None = None) -> bool:
    """Append `text` to the file named by `env_var` (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY…).

    Returns False when the variable is unset, so callers can work outside Actions.
    """
    path = environment.github_file(env_var, env)
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(text if text.endswith("\n") else text + "\n")
    return True
