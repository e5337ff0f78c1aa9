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
# fixture carry the marker themselves). A real build started by a test without the marker fails it
# (`require_slow`), so a missing marker shows in the fast loop instead of slowing it down.
BUILD_FIXTURES = frozenset({"built", "builds", "built_n2", "clean_n1", "composites", "built_525"})
_running: list[pytest.Item] = []  # the test being set up or run: module fixtures build for it


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses a real-build fixture `slow`."""
    for item in items:
        if BUILD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember the test whose fixtures are set up now (before any of them runs)."""
    _running[:] = [item]


def require_slow() -> None:
    """Fail the running test unless it is marked `slow`: it is about to build real models."""
    if _running and _running[0].get_closest_marker("slow") is None:
        pytest.fail(f"{_running[0].nodeid} builds real models: mark it `slow` or use a fixture of "
                    "conftest.BUILD_FIXTURES", pytrace=False)


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One offline build of a text, a vision and a speech type, shared by the report tests."""
    require_slow()
    out = tmp_path_factory.mktemp("built") / "tiny-models"
    proc = run_cli("build", "bert", "vit", "wav2vec2", "-o", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


# Default-option builds of this session, one per model type: the test files of several modules read
# the same type (each lists the types it reads), and it is built once.
_IN_PROCESS: dict[str, dict[str, Any]] = {}


def build_in_process(factory: pytest.TempPathFactory, name: str, types: Iterable[str]) -> dict[str, Any]:
    """Real builds of `types` in this process with default options: {"out": folder, type: entry}.

    Every type is built once per session into one shared folder (`name` only labels the caller)."""
    from tinymodels.build.builder import build_model_type, one_thread, quiet_libraries
    from tinymodels.options import BuildOptions

    require_slow()
    quiet_libraries()
    one_thread()
    out = factory.getbasetemp() / "in-process"
    for model_type in types:
        if model_type not in _IN_PROCESS:
            _IN_PROCESS[model_type] = build_model_type(model_type, BuildOptions(), out / model_type)[1]
    return {"out": out, **{t: _IN_PROCESS[t] for t in types}}


def build_selected(factory: pytest.TempPathFactory, model_type: str, archs: tuple[str, ...],
                   levels: set[str]) -> dict[str, Any]:
    """A real in-process build of `archs` of `model_type` at `levels` (plus load): the type's
    report entry, with the output folder under "out"."""
    from tinymodels.build.builder import build_model_type, one_thread, quiet_libraries
    from tinymodels.config.discover import architecture_mappings
    from tinymodels.options import BuildOptions

    require_slow()
    quiet_libraries()
    one_thread()
    out = factory.mktemp(model_type)
    skip = frozenset(a for a in architecture_mappings(model_type) if a not in archs)
    options = BuildOptions(skip=skip, validate=frozenset({"load", *levels}))
    entry = build_model_type(model_type, options, out)[1]
    assert set(entry["pytorch"]) == set(archs), entry
    return {**entry, "out": out}


def arch_folder(built: dict[str, Any], model_type: str, arch: str) -> Path:
    """The folder of one architecture in a `build_in_process` result."""
    return built["out"] / model_type / arch


def arch_json(built: dict[str, Any], model_type: str, arch: str, name: str) -> dict[str, Any]:
    """A JSON file (config, generation config, tokenizer config…) of one built architecture."""
    import json

    return json.loads((arch_folder(built, model_type, arch) / name).read_text())


def levels_of(entry: dict[str, Any], arch: str) -> dict[str, Any]:
    """The per-level results of one architecture of a `build_selected` entry, which must have no error."""
    info = entry["pytorch"][arch]
    assert not info.get("error"), info.get("error")
    return info["levels"]


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
