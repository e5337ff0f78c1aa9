"""`tinymodels summary` (not implemented yet)."""

from __future__ import annotations

import argparse

from tinymodels.errors import UsageError

HELP = "summary (not implemented yet)"
DESCRIPTION = HELP


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet."""


def run(args: argparse.Namespace) -> int:
    raise UsageError("'tinymodels summary' is not implemented yet")
