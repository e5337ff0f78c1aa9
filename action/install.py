"""Install tinymodels for the composite action into its own virtual environment (stdlib only).

    python3 action/install.py VENV_DIR

torch comes first, from $TORCH_INDEX (PyTorch's CPU wheel index, say) under constraints/torch.txt;
then the package with its optional model libraries under constraints/ci.txt. With no index, the
default index would resolve torch to its multi-GB CUDA build, so that is refused unless
$ALLOW_DEFAULT_TORCH_INDEX is "true". The venv's bin directory is appended to $GITHUB_PATH, so
later steps call this `tinymodels` and the caller's Python stays untouched.
Exit codes: 0 installed, 2 no torch index (and not allowed), other: pip's.
"""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NO_INDEX = (
    "no torch index: set the action's torch-index input (e.g. PyTorch's CPU wheel index, from a "
    "TORCH_INDEX_URL repository variable) so that torch is not the multi-GB CUDA build of the "
    "default index, or set allow-default-torch-index: true to install that build on purpose"
)


def commands(venv_dir: Path, torch_index: str) -> list[list[str]]:
    """The pip commands, in order (printed and run)."""
    python = str(venv_dir / "bin" / "python")
    index = ["--index-url", torch_index] if torch_index else []
    return [
        [python, "-m", "pip", "install", "--quiet", "--upgrade", "pip"],
        [python, "-m", "pip", "install", *index, "--constraint", str(ROOT / "constraints" / "torch.txt"),
         "torch", "torchvision"],
        [python, "-m", "pip", "install", "--constraint", str(ROOT / "constraints" / "ci.txt"), f"{ROOT}[models]"],
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    venv_dir = Path(argv[0]).resolve()
    torch_index = os.environ.get("TORCH_INDEX", "").strip()
    if not torch_index and os.environ.get("ALLOW_DEFAULT_TORCH_INDEX", "false").strip().lower() != "true":
        # A workflow-command annotation, so the reason shows on the run's page, not only in the log.
        print(f"::error title=tinymodels: no torch index::{NO_INDEX}", flush=True)
        print(f"error: {NO_INDEX}", file=sys.stderr)
        return 2
    venv.EnvBuilder(with_pip=True, clear=True).create(venv_dir)
    for cmd in commands(venv_dir, torch_index):
        print("+ " + " ".join(cmd), flush=True)
        rc = subprocess.run(cmd).returncode
        if rc:
            return rc
    github_path = os.environ.get("GITHUB_PATH")
    if github_path:
        with open(github_path, "a", encoding="utf-8") as fh:
            fh.write(f"{venv_dir / 'bin'}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
