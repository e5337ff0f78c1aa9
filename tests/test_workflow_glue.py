"""The pipeline's glue, executed: tiny-models.yml's jobs and `run:` steps in order, in a temp dir,
against an emulation of the runner and the artifact actions (tests/workflow_emulator.py), for 1, 3
and 8 shards, and a publishing run against the local test Hub.

The builds are real `tinymodels build` calls; they re-use one build of eight small types (restored
into each shard's output dir like a cache), so a shard only rewrites its reports. Point
TINYMODELS_GLUE_WORKFLOW at another workflow file (e.g. `git show main:.github/workflows/tiny-models.yml`)
to run the same checks against it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import tinymodels
from conftest import run_cli
from tinymodels.run import reports
from workflow_emulator import Expressions, WorkflowRun

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = Path(os.environ.get("TINYMODELS_GLUE_WORKFLOW") or ROOT / ".github" / "workflows" / "tiny-models.yml")
# Eight small text types: enough for 8 one-type shards, a few seconds each at `--validate forward`.
TYPES = ("albert", "bert", "distilbert", "electra", "gpt2", "gpt_neo", "opt", "roberta")
HF_SECRET = "hf_GLUEsecretTOKEN0123456789abcdef"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One build of TYPES at the level the runs ask for, shared by every run (a restored cache)."""
    out = tmp_path_factory.mktemp("glue-cache") / "out"
    proc = run_cli("build", *TYPES, "-o", str(out), "--validate", "forward", "--num-workers", "2")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def bin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`tinymodels` on PATH: this checkout's CLI under this interpreter (what the image holds)."""
    path = tmp_path_factory.mktemp("glue-bin")
    src = Path(tinymodels.__file__).resolve().parents[1]
    shim = path / "tinymodels"
    shim.write_text(f'#!/bin/sh\nPYTHONPATH="{src}${{PYTHONPATH:+:$PYTHONPATH}}" exec "{sys.executable}" '
                    '-m tinymodels "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return path


def declared(inputs: dict[str, Any]) -> dict[str, Any]:
    """The inputs the workflow under test declares (an older workflow may lack some, e.g. validate)."""
    import yaml

    on = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))[True]
    return {k: v for k, v in inputs.items() if k in on["workflow_dispatch"]["inputs"]}


def restore_cache(cache: Path) -> Callable[[str, dict[str, Any] | None, Path], None]:
    def seed(job_id: str, matrix: dict[str, Any] | None, workspace: Path) -> None:
        if job_id != "build" or not matrix:
            return
        for model_type in str(matrix["model_types"]).split(","):
            shutil.copytree(cache / model_type, workspace / "out" / model_type)
    return seed


def _failures(run: WorkflowRun, expected: set[str] = frozenset()) -> list[str]:
    return [f"{s.job}: {s.step}\n{s.output[-2500:]}" for s in run.steps
            if s.outcome == "failure" and f"{s.job}: {s.step}" not in expected]


def _token_free(run: WorkflowRun, allowed_jobs: set[str]) -> None:
    for step in run.steps:
        if step.job.split("-")[0] not in allowed_jobs:
            assert HF_SECRET not in json.dumps(step.env) + step.output, f"{step.job}: {step.step} sees the Hub token"


@pytest.fixture
def hub() -> Iterator[Any]:
    """The local test Hub (tests/hubserver.py) that the publish job talks to."""
    sys.path.insert(0, str(Path(__file__).parent))
    from hubserver import HubServer

    with HubServer() as server:
        server.state.token = HF_SECRET
        yield server


# One run per shard count, each also exercising one more path of the glue:
#   1 shard: the PR with GITHUB_TOKEN (and its job-summary note);
#   3 shards: shard 1's build step times out, and the models are published (upload: true);
#   8 shards: the PR with a GitHub App token.
SCENARIOS = {1: "github-token", 3: "timeout+publish", 8: "app-token"}


# Integration: the cache fixture builds eight real types through the CLI.
@pytest.mark.slow
@pytest.mark.parametrize("shards", sorted(SCENARIOS), ids=[f"{n}-shards-{SCENARIOS[n]}" for n in sorted(SCENARIOS)])
def test_pipeline_glue(shards: int, cache: Path, bin_dir: Path, tmp_path: Path, hub: Any) -> None:
    scenario = SCENARIOS[shards]
    inputs: dict[str, Any] = {"model-types": ",".join(TYPES), "shards": shards, "num-workers": 1,
                              "validate": "forward"}
    variables, secrets = {}, {"HF_TOKEN": HF_SECRET}
    timed_out: set[tuple[str, int | None, str]] = set()
    if scenario == "timeout+publish":
        timed_out = {("build", 1, "./action")}
        inputs |= {"upload": True, "organization": "org"}
    if scenario == "app-token":
        variables["TINY_MODELS_APP_ID"] = "12345"
        secrets["TINY_MODELS_APP_PRIVATE_KEY"] = "-----BEGIN PRIVATE KEY-----"
    env = {"TOKENIZERS_PARALLELISM": "false", "HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"),
           "HF_HUB_DISABLE_XET": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    run = WorkflowRun(WORKFLOW, ROOT, tmp_path / "run", inputs=declared(inputs), variables=variables,
                      secrets=secrets, bin_dir=bin_dir, env=env, seed=restore_cache(cache),
                      timed_out=timed_out).run()
    expected = set(run.timeouts)
    assert len(expected) == len(timed_out)
    assert not _failures(run, expected), "\n\n".join(_failures(run, expected))

    # Every shard's models carry their hidden .tinymodels.json stamps (incremental re-runs need them).
    matrix = json.loads(run.jobs["plan"].outputs["matrix"])["include"]
    for entry in matrix:
        files = run.artifacts.store[f"models-{entry['shard']}"]
        for model_type in entry["model_types"].split(","):
            assert f"{model_type}/.tinymodels.json" in files, (entry["shard"], model_type)
        assert not any(f.startswith("reports/") for f in files)

    # The merge holds every shard's types (the timed-out one's too), exactly as one build reported them.
    merged = run.artifacts.store["merged-reports"]
    single = json.loads((cache / "reports" / reports.CREATION_REPORT).read_text(encoding="utf-8"))
    assert json.loads(merged[reports.CREATION_REPORT]) == single

    assert run.jobs["build"].instances == shards
    results = {j: run.jobs[j].result if j in run.jobs else "missing" for j in ("plan", "aggregate", "pr")}
    assert results == dict.fromkeys(results, "success")

    # One PR: summary + coverage, body with the run link and the coverage headline, token note.
    [pr] = run.pull_requests
    summary = json.loads(pr["files"]["tests/utils/tiny_model_summary.json"])
    assert {"BertModel", "GPT2LMHeadModel", "OPTForCausalLM"} <= set(summary)
    assert pr["files"]["docs/coverage.md"] == (ROOT / "docs" / "coverage.md").read_text(encoding="utf-8"), \
        "a partial run must not rewrite the full coverage table"
    assert "https://github.com/owner/tinymodels/actions/runs/4242" in pr["body"]
    assert "registered (model type, architecture) pairs built and validated" in pr["body"]
    if scenario == "app-token":
        assert pr["token"] == "ghs_APPTOKEN"
        assert "GitHub App" in run.summaries["pr"] and "no CI runs" not in run.summaries["pr"]
    else:
        assert pr["token"] == run.secrets["GITHUB_TOKEN"]
        assert "no CI runs on that PR" in run.summaries["pr"]

    # Publishing: its own job after aggregation, the only one that sees the token, organization checked.
    if scenario != "timeout+publish":
        assert run.jobs["publish"].result == "skipped", "publishing is opt-in"
        assert not hub.state.repos
    else:
        assert run.jobs["publish"].result == "success"
        publish = next(s for s in run.steps if s.job == "publish" and s.step == "Publish")
        assert "organization 'org' checked" in publish.output
        archs = {a for e in single.values() for a, i in e["pytorch"].items() if reports.arch_ok(i)}
        assert set(hub.state.repos) == {f"org/tiny-random-{a}" for a in archs}
        published = json.loads(run.artifacts.store["published-reports"][reports.CREATION_REPORT])
        assert all(i.get("sha") for e in published.values() for i in e["pytorch"].values() if reports.arch_ok(i))
        assert not any(HF_SECRET in s.output for s in run.steps), "the token is never logged"
    _token_free(run, allowed_jobs={"publish"})


def test_a_scheduled_run_builds_everything_with_the_defaults_and_publishes_nothing() -> None:
    import yaml

    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    ctx = {"inputs": {}, "vars": {}, "secrets": {}, "github": {"event_name": "schedule"},
           "needs": {"aggregate": {"result": "success"}}, "matrix": {"model_types": "bert"}}
    expr = Expressions(ctx, {"success": True, "failure": False, "cancelled": False})
    plan_env = expr.render(wf["jobs"]["plan"]["steps"][0]["env"])
    assert plan_env == {"SELECTION": "--all", "SHARDS": 8}
    build = next(s for s in wf["jobs"]["build"]["steps"] if s.get("uses") == "./action")
    assert expr.render(build["with"])["validate"] == "all"
    assert not expr.condition(wf["jobs"]["publish"]["if"])
