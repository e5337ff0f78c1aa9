"""The `tinymodels` command line: one sub-command per pipeline step.

Each sub-command lives in `tinymodels.commands.<name>` and exposes `HELP`,
`DESCRIPTION`, `add_arguments(parser)` and `run(args) -> int`; this module only
wires them together and turns `TinyModelsError` into exit codes.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from typing import Final

from tinymodels import __version__, environment
from tinymodels.errors import TinyModelsError

# Sub-command name -> module under tinymodels.commands (imported lazily: torch is heavy).
COMMANDS: Final[dict[str, str]] = {
    "build": "build",
    "plan": "plan",
    "aggregate": "aggregate",
    "summary": "summary",
    "upload": "upload",
}


class _ArgumentParser(argparse.ArgumentParser):
    """argparse exits with 2 on errors; keep that, but say what to do next."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\nRun '{self.prog} --help' for the full list of options.\n")


def build_parser() -> argparse.ArgumentParser:
    """Return the full parser (imports each command module, not torch)."""
    parser = _ArgumentParser(
        prog="tinymodels",
        description="Build, validate and publish tiny-random checkpoints for transformers architectures.",
        epilog="Examples:\n  tinymodels build bert gpt2 -o tiny-models\n  tinymodels build --all --num-workers 2\n"
        "  tinymodels plan --all --shards 8\n\nSet TINYMODELS_DEBUG=1 for full tracebacks.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"tinymodels {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_ArgumentParser)
    sub.required = True
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"tinymodels.commands.{module_name}")
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.DESCRIPTION,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            allow_abbrev=False,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    try:
        # Inside the try: option defaults read runtime variables, so a bad one is a usage error
        # (exit 2) even for `--help`.
        args = build_parser().parse_args(argv)
        return int(args._run(args) or 0)
    except TinyModelsError as exc:
        if environment.debug():
            traceback.print_exc()
        print(f"tinymodels: error: {exc}", file=sys.stderr, flush=True)
        return exc.return_code
    except KeyboardInterrupt:
        print("tinymodels: interrupted", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # Output piped into `head` & co.: not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
