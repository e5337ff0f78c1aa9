"""Shared fixtures: hermetic environment and one real build reused by many tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
UPSTREAM_SUMMARY = REPO.parent / "shared" / "data" / "upstream_tiny_model_summary_2023.json"


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hub, no tokens, no CI side files unless a test sets them."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    for var in ("HF_TOKEN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(var, raising=False)


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -m tinymodels ARGS` as a subprocess, as a user would."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {})}
    full_env.pop("HF_TOKEN", None)
    return subprocess.run([sys.executable, "-m", "tinymodels", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One offline build of a text, a vision and a speech type, shared by the report tests."""
    out = tmp_path_factory.mktemp("built") / "tiny-models"
    proc = run_cli("build", "bert", "vit", "wav2vec2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
