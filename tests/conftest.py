"""Shared fixtures: hermetic environment and one real build reused by many tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# Upstream's summary file, trimmed to what the tests need (origin in tests/fixtures/upstream/README.md).
UPSTREAM_SUMMARY = REPO / "tests" / "fixtures" / "upstream" / "tiny_model_summary_2023.json"


@pytest.fixture(autouse=True)
def _hermetic_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No Hub, no tokens, no CI side files unless a test sets them."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "false")
    for var in ("HF_TOKEN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS"):
        monkeypatch.delenv(var, raising=False)


# Variables of the calling shell or CI that would change what a subprocess does or writes.
_LEAKY_ENV = ("HF_TOKEN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "CI",
              "TINYMODELS_FAULT_INJECT", "TINYMODELS_NUM_WORKERS")


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A hermetic environment for `python -m tinymodels`: offline, no tokens, no CI side files."""
    env = {k: v for k, v in os.environ.items() if k not in _LEAKY_ENV}
    return {**env, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(extra or {})}


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run `python -m tinymodels ARGS` as a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "tinymodels", *args], capture_output=True, text=True,
                          env=cli_env(env), cwd=cwd, timeout=timeout)


# Fixtures that build real models (seconds to minutes): every test using one is an integration
# test, marked `slow` so that `pytest -m "not slow"` is the fast loop (tests that build without a
# fixture carry the marker themselves).
BUILD_FIXTURES = frozenset({"built", "builds", "built_n2", "clean_n1", "composites"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real-build fixture `slow`."""
    for item in items:
        if BUILD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One offline build of a text, a vision and a speech type, shared by the report tests."""
    out = tmp_path_factory.mktemp("built") / "tiny-models"
    proc = run_cli("build", "bert", "vit", "wav2vec2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


def build_in_process(factory: pytest.TempPathFactory, name: str, types: Iterable[str]) -> dict[str, Any]:
    """Real builds of `types` in this process with default options: {"out": folder, type: entry}."""
    from tinymodels.build.builder import build_model_type, one_thread, quiet_libraries
    from tinymodels.options import BuildOptions

    quiet_libraries()
    one_thread()
    out = factory.mktemp(name)
    return {"out": out, **{t: build_model_type(t, BuildOptions(), out / t)[1] for t in types}}


def arch_levels(built: dict[str, Any], model_type: str, arch: str) -> dict[str, Any]:
    """The per-level results one architecture of a `build_in_process` result recorded."""
    return built[model_type]["pytorch"][arch]["levels"]


def arch_errors(entry: dict[str, Any]) -> dict[str, str]:
    """Architecture -> first error line, for every failed architecture of a report entry."""
    return {a: v["error"][0] for a, v in entry["pytorch"].items() if v.get("error")}


def assert_all_validate(entry: dict[str, Any]) -> None:
    """The entry lists architectures and every one of them validated."""
    assert entry["pytorch"], entry
    assert arch_errors(entry) == {}
