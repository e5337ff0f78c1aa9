"""Runtime variables: one reader, typed, bad values are usage errors, all documented."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from conftest import REPO, run_cli
from tinymodels import environment
from tinymodels.errors import UsageError

SRC = REPO / "src" / "tinymodels"
VARIABLE = re.compile(r"^(?:(?:TINYMODELS|HF|GITHUB)_[A-Z0-9_]+|CI)$")


def test_a_bad_worker_count_is_a_usage_error_even_for_help() -> None:
    proc = run_cli("--help", env={"TINYMODELS_NUM_WORKERS": "abc"}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "TINYMODELS_NUM_WORKERS='abc': expected an integer >= 0" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_bad_hub_timeout_stops_upload_before_any_work(tmp_path: Path) -> None:
    proc = run_cli("upload", str(tmp_path), "--organization", "org", env={"TINYMODELS_HUB_TIMEOUT": "0"}, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "TINYMODELS_HUB_TIMEOUT='0': expected a number > 0" in proc.stderr


def test_typed_accessors_parse_defaults_and_refuse_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TINYMODELS_NUM_WORKERS", raising=False)
    assert environment.num_workers() == 1
    monkeypatch.setenv("TINYMODELS_NUM_WORKERS", " 3 ")
    assert environment.num_workers() == 3
    monkeypatch.setenv("TINYMODELS_NUM_WORKERS", "")  # empty: unset, as `VAR= cmd` means
    assert environment.num_workers() == 1
    for name, value, call in (("TINYMODELS_NUM_WORKERS", "-1", environment.num_workers),
                              ("TINYMODELS_NUM_WORKERS", "2.5", environment.num_workers),
                              ("TINYMODELS_UPLOAD_BACKOFF", "fast", lambda: environment.upload_backoff(2.0)),
                              ("TINYMODELS_HUB_TIMEOUT", "nan", lambda: environment.hub_timeout(60.0)),
                              ("TINYMODELS_WORKER_MAX_RSS_MB", "0", lambda: environment.worker_max_rss_mb(6144))):
        monkeypatch.setenv(name, value)
        with pytest.raises(UsageError, match=re.escape(f"{name}={value!r}")) as caught:
            call()
        assert caught.value.return_code == 2
    monkeypatch.setenv("TINYMODELS_UPLOAD_BACKOFF", "0")
    assert environment.upload_backoff(2.0) == 0.0
    monkeypatch.setenv("TINYMODELS_RUN_STATS", "stats.json")
    assert environment.run_stats_path() == Path("stats.json")


def test_ci_detection_and_github_files_read_a_given_environment() -> None:
    assert environment.in_github_actions({"GITHUB_ACTIONS": "true"})
    assert not environment.in_github_actions({"GITHUB_ACTIONS": "false"})
    assert environment.in_ci({"CI": "1"}) and environment.in_ci({"GITHUB_ACTIONS": "true"})
    assert not environment.in_ci({"CI": ""})
    assert environment.github_file("GITHUB_OUTPUT", {"GITHUB_OUTPUT": "/tmp/out"}) == "/tmp/out"
    assert environment.hf_endpoint({}) is None
    with pytest.raises(KeyError, match="not a documented tinymodels variable"):
        environment._raw("TINYMODELS_UNDOCUMENTED", {})


def _environ_reads(path: Path) -> list[str]:
    """`file:line` of every os.environ / os.getenv use (however imported) in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv"):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
        elif isinstance(node, ast.ImportFrom) and node.module == "os" \
                and any(a.name in ("environ", "getenv", "environb") for a in node.names):
            found.append(f"{path.relative_to(REPO)}:{node.lineno}")
    return found


def test_only_environment_py_reads_the_environment() -> None:
    reads = [hit for p in sorted(SRC.rglob("*.py")) if p.name != "environment.py" or p.parent != SRC
             for hit in _environ_reads(p)]
    assert reads == [], "read runtime variables through tinymodels.environment"
    assert _environ_reads(SRC / "environment.py")  # the scan does see a real read


def test_every_variable_named_in_src_is_documented_in_readme() -> None:
    named = {node.value for p in SRC.rglob("*.py") for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
             if isinstance(node, ast.Constant) and isinstance(node.value, str) and VARIABLE.match(node.value)}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Environment variables", 1)[1].split("\n## ", 1)[0]
    table = set(re.findall(r"^\| `([A-Z0-9_]+)` \|", section, re.MULTILINE))
    assert named <= set(environment.VARIABLES), sorted(named - set(environment.VARIABLES))
    assert table == set(environment.VARIABLES)
