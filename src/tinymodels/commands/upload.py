"""`tinymodels upload` (not implemented yet)."""

from __future__ import annotations

import argparse

from tinymodels.errors import UsageError

HELP = "upload (not implemented yet)"
DESCRIPTION = HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def run(args: argparse.Namespace) -> int:
    raise UsageError("'tinymodels upload' is not implemented yet")
