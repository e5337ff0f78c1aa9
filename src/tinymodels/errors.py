"""The tinymodels error hierarchy: every fatal error carries its own exit code.

Only `cli.main()` turns these into an exit status; library code raises them. A build in
which some models failed is not an error here: it exits 1 with the failures in the reports.
`scrub` keeps per-run temporary paths out of every error message that reaches a report.
"""

from __future__ import annotations

import re
import tempfile


class TinyModelsError(Exception):
    """Base of every error tinymodels reports to a user (exit code 1)."""

    return_code: int = 1


class UsageError(TinyModelsError, ValueError):
    """Bad command-line input: unknown model type, conflicting flags… (exit code 2)."""

    return_code = 2


class UnknownModelTypeError(UsageError):
    """A model type that the installed transformers does not register."""


class OutputDirError(TinyModelsError, OSError):
    """The output directory cannot be created or written (exit code 3)."""

    return_code = 3


class CorpusError(TinyModelsError):
    """The training corpus cannot be loaded (exit code 4)."""

    return_code = 4


class ReportError(TinyModelsError, ValueError):
    """A report file is malformed, duplicated or conflicting (exit code 5)."""

    return_code = 5


class UploadError(TinyModelsError):
    """Publishing to the Hub failed (exit code 6)."""

    return_code = 6


class KnowledgeError(TinyModelsError, ValueError):
    """A shipped knowledge file (`resources/*.yaml`) breaks its schema or conflicts with another
    (exit code 7): a bug in the package data, not in the user's input."""

    return_code = 7


_VOLATILE = re.compile(re.escape(tempfile.gettempdir()) + r"/tinymodels-[\w.-]+|\.staging-\d+-")


def scrub(text: str) -> str:
    """Drop per-run temporary paths from messages, so reports are identical across runs."""
    return _VOLATILE.sub(lambda m: ".staging-" if m.group(0).startswith(".staging") else "<tmp>", text)
