"""action/install.py: the composite action's installer (its own venv, torch from an explicit index)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
INSTALL = ROOT / "action" / "install.py"


def _run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(INSTALL), str(tmp_path / "venv")], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "GITHUB_PATH": str(tmp_path / "github_path"), **env},
                          timeout=120)


def test_no_torch_index_is_a_clear_failure_before_anything_is_installed(tmp_path: Path) -> None:
    proc = _run(tmp_path, TORCH_INDEX="", ALLOW_DEFAULT_TORCH_INDEX="false")
    assert proc.returncode == 2
    assert proc.stdout.startswith("::error title=tinymodels: no torch index::"), "an annotation on the run page"
    assert "set the action's torch-index input" in proc.stderr and "allow-default-torch-index: true" in proc.stderr
    assert not (tmp_path / "venv").exists() and not (tmp_path / "github_path").exists()


def test_commands_take_torch_from_the_index_under_the_pins(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("action_install", INSTALL)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    venv = tmp_path / "venv"
    upgrade, torch, package = module.commands(venv, "https://index.example/cpu")
    assert upgrade[0] == torch[0] == package[0] == str(venv / "bin" / "python"), "everything goes into the venv"
    assert torch[torch.index("--index-url") + 1] == "https://index.example/cpu"
    assert torch[torch.index("--constraint") + 1] == str(ROOT / "constraints" / "torch.txt")
    assert package[package.index("--constraint") + 1] == str(ROOT / "constraints" / "ci.txt")
    assert package[-1] == f"{ROOT}[models]"
    # Allowed on purpose: no --index-url, so pip uses its configured (default) index.
    assert "--index-url" not in module.commands(venv, "")[1]
