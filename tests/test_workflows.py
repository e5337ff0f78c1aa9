"""Contract tests for the GitHub workflows, the composite action and the image files (no torch needed).

Linters check syntax and expressions; these tests check what they cannot: the job graph, where the
matrix and the container image come from, pins, permissions and the "one CLI call per step" rule.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
PIPELINE = WORKFLOWS / "tiny-models.yml"
CI = WORKFLOWS / "ci.yml"
ACTION = ROOT / "action" / "action.yml"

SHA_PIN = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)\s*(?:#\s*(?P<comment>.*))?$")
VERSION_COMMENT = re.compile(r"^v\d+(\.\d+){0,2}\b")
# Oldest major version of each action that runs on node24 (node20 is deprecated on runners).
NODE24_MAJOR = {
    "actions/checkout": 5,
    "actions/setup-python": 6,
    "actions/upload-artifact": 6,
    "actions/download-artifact": 7,
    "actions/cache": 5,
    "peter-evans/create-pull-request": 8,
}
ALLOWED_COMMANDS = {"tinymodels", "pip", "python", "python3", "nox"}
# The image jobs talk to the container engine; no other job does.
IMAGE_JOB_COMMANDS = ALLOWED_COMMANDS | {"docker", "echo"}
IMAGE_JOBS = {("tiny-models.yml", "image"), ("ci.yml", "image")}
READ_ONLY_TOP = ({}, {"contents": "read"})
WRITE_SCOPES = {
    ("tiny-models.yml", "image"): {"packages"},
    ("tiny-models.yml", "pr"): {"contents", "pull-requests"},
}
PLAN_MATRIX_KEYS = {"shard", "model_types", "cost"}


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    assert isinstance(data, dict), f"{path} is not a mapping"
    return data


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.y*ml"))


def all_steps() -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(file name, job id or 'action', step) for every step of every workflow and the action."""
    for path in workflow_files():
        for job_id, job in load(path)["jobs"].items():
            for step in job.get("steps", []):
                yield path.name, job_id, step
    for step in load(ACTION)["runs"]["steps"]:
        yield ACTION.name, "action", step


@pytest.fixture(scope="module")
def pipeline() -> dict[str, Any]:
    return load(PIPELINE)


@pytest.fixture(scope="module")
def action() -> dict[str, Any]:
    return load(ACTION)


# --- the pipeline workflow ---------------------------------------------------------------------


def test_dispatch_inputs(pipeline: dict[str, Any]) -> None:
    # PyYAML reads the bare key `on` as the boolean True.
    inputs = pipeline[True]["workflow_dispatch"]["inputs"]
    assert len(inputs) <= 10, "workflow_dispatch allows at most 10 inputs"
    types = {name: spec.get("type") for name, spec in inputs.items()}
    assert types["model-types"] == "string"
    assert types["shards"] == "number"
    assert types["upload"] == "boolean"
    assert types["organization"] == "string"
    assert inputs["model-types"].get("default", "") == "", "empty model types must mean all"
    assert inputs["upload"]["default"] is False, "publishing must be opt-in"
    for name, spec in inputs.items():
        assert spec.get("description"), f"input {name} has no description"
        if spec.get("type") == "choice":
            assert spec.get("default") in spec["options"]


def test_schedule_and_workflow_call_share_the_dispatch_inputs(pipeline: dict[str, Any]) -> None:
    on = pipeline[True]
    assert on["schedule"] and all(len(entry["cron"].split()) == 5 for entry in on["schedule"])
    dispatch, call = on["workflow_dispatch"]["inputs"], on["workflow_call"]["inputs"]
    assert dispatch == call, "workflow_call must take exactly the dispatch inputs"
    assert set(on["workflow_call"]["secrets"]) == {"HF_TOKEN", "PR_TOKEN", "TINY_MODELS_APP_PRIVATE_KEY"}
    assert not any(s.get("required") for s in on["workflow_call"]["secrets"].values())


def test_bash_with_pipefail_by_default() -> None:
    # `shell: bash` runs `bash -eo pipefail`; the runner's default (`bash -e`) hides failures in pipes.
    for path in workflow_files():
        assert load(path)["defaults"]["run"]["shell"] == "bash", path.name


def test_job_graph(pipeline: dict[str, Any]) -> None:
    jobs = pipeline["jobs"]

    def needs(job: str) -> set[str]:
        value = jobs[job].get("needs", [])
        return {value} if isinstance(value, str) else set(value)

    assert {"image", "plan", "build", "aggregate", "pr", "publish"} <= set(jobs)
    assert needs("image") == set()
    assert {"image", "plan"} <= needs("build")
    assert "build" in needs("aggregate")
    assert "aggregate" in needs("pr") and "aggregate" in needs("publish")
    # The aggregate still runs when some shards failed, but not when the run was cancelled.
    assert "!cancelled()" in jobs["aggregate"].get("if", "")
    for job_id, job in jobs.items():
        assert needs(job_id) <= set(jobs), f"{job_id} needs an unknown job"
        assert job.get("timeout-minutes"), f"{job_id} has no timeout-minutes"


def test_matrix_comes_from_plan_output(pipeline: dict[str, Any]) -> None:
    jobs = pipeline["jobs"]
    strategy = jobs["build"]["strategy"]
    assert strategy["matrix"].replace(" ", "") == "${{fromJSON(needs.plan.outputs.matrix)}}"
    assert strategy.get("fail-fast") is False, "one failing shard must not cancel the others"
    output = jobs["plan"]["outputs"]["matrix"].replace(" ", "")
    match = re.fullmatch(r"\$\{\{steps\.([\w-]+)\.outputs\.matrix\}\}", output)
    assert match, output
    step = next(s for s in jobs["plan"]["steps"] if s.get("id") == match.group(1))
    assert step["run"].split()[:2] == ["tinymodels", "plan"]
    assert "--shards" in step["run"]


def test_build_uses_only_planned_matrix_keys() -> None:
    build_text = PIPELINE.read_text(encoding="utf-8").split("\n  build:\n", 1)[1].split("\n  aggregate:\n")[0]
    used = set(re.findall(r"matrix\.([A-Za-z_][\w-]*)", build_text))
    assert used and used <= PLAN_MATRIX_KEYS, used - PLAN_MATRIX_KEYS


def test_container_image_by_digest(pipeline: dict[str, Any]) -> None:
    jobs = pipeline["jobs"]
    image_ref = jobs["image"]["outputs"]["ref"].replace(" ", "")
    match = re.fullmatch(r"\$\{\{steps\.([\w-]+)\.outputs\.name\}\}@\$\{\{steps\.([\w-]+)\.outputs\.digest\}\}",
                         image_ref)
    assert match, image_ref
    steps = {s.get("id"): s for s in jobs["image"]["steps"]}
    assert steps[match.group(2)]["uses"].startswith("docker/build-push-action@")
    assert "ghcr.io/" in steps[match.group(1)]["env"]["IMAGE"]
    assert "${IMAGE,,}" in steps[match.group(1)]["run"], "image names must be lower case"
    for job_id in ("plan", "build", "aggregate", "pr", "publish"):
        container = jobs[job_id]["container"]
        assert container["image"].replace(" ", "") == "${{needs.image.outputs.ref}}", job_id
        assert set(container["credentials"]) == {"username", "password"}, job_id
        assert (
            "secrets." in container["credentials"]["password"]
            or "github.token" in container["credentials"]["password"]
        )
        perms = jobs[job_id]["permissions"]
        assert perms.get("packages") in ("read", "write"), f"{job_id} cannot pull the image"


def test_image_built_with_buildx_cache_labels_and_a_torch_index(pipeline: dict[str, Any]) -> None:
    for path, job in ((PIPELINE, pipeline["jobs"]["image"]), (CI, load(CI)["jobs"]["image"])):
        uses = [s.get("uses", "").split("@")[0] for s in job["steps"]]
        assert "docker/setup-buildx-action" in uses, path.name
        build = next(s for s in job["steps"] if s.get("uses", "").startswith("docker/build-push-action@"))
        assert build["with"]["cache-from"].startswith("type=gha"), path.name
        assert "TORCH_INDEX_URL=${{ vars.TORCH_INDEX_URL }}" in build["with"]["build-args"], path.name
        smoke = [s for s in job["steps"] if s.get("run", "").startswith("docker run --rm --network none")]
        assert smoke and "build bert" in smoke[0]["run"], path.name
    build = next(s for s in pipeline["jobs"]["image"]["steps"] if s.get("id") == "build")
    assert build["with"]["labels"].replace(" ", "") == "${{steps.meta.outputs.labels}}", "OCI labels"
    assert "mode=max" in build["with"]["cache-to"]
    assert "ALLOW_DEFAULT_TORCH_INDEX=${{ inputs.allow-default-torch-index" in build["with"]["build-args"]


def test_build_job_runs_the_action_and_uploads_per_shard(pipeline: dict[str, Any]) -> None:
    job = pipeline["jobs"]["build"]
    steps = job["steps"]
    action_steps = [s for s in steps if s.get("uses") == "./action"]
    assert len(action_steps) == 1
    build = action_steps[0]
    with_ = build["with"]
    assert "matrix.model_types" in with_["model-types"]
    assert "token" not in with_ and "upload" not in with_, "shards never see the Hub token"
    assert "secrets." not in json.dumps(job), "no secret reaches a shard"
    assert str(with_["install"]).lower() == "false", "the image already has tinymodels"
    # A step timeout fails the step; a job timeout cancels the job and skips the `!cancelled()` uploads.
    assert 0 < build["timeout-minutes"] < job["timeout-minutes"]
    uploads = [s for s in steps if s.get("uses", "").startswith("actions/upload-artifact@")]
    names = [s["with"]["name"] for s in uploads]
    assert len(names) == 2 and all("matrix.shard" in n for n in names), names
    assert all("!cancelled()" in s.get("if", "") for s in uploads), "upload what was built even on failure"
    report_upload = next(s for s in uploads if s["with"]["name"].startswith("reports-"))
    model_upload = next(s for s in uploads if s["with"]["name"].startswith("models-"))
    assert model_upload["with"]["include-hidden-files"] is True, "the .tinymodels.json stamps are hidden files"
    output_dir = with_["output-dir"]
    assert report_upload["with"]["path"].rstrip("/") == f"{output_dir}/reports"


def test_aggregate_merges_the_download_path(pipeline: dict[str, Any]) -> None:
    job = pipeline["jobs"]["aggregate"]
    download = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/download-artifact@"))
    assert download["with"]["pattern"] == "reports-*"
    # Shards write the same file names: each must land in its own directory.
    assert download["with"].get("merge-multiple") is False
    partials = download["with"]["path"]
    runs = [s["run"] for s in job["steps"] if "run" in s]
    # The path itself, never a glob: one matched artifact is extracted straight into it.
    assert f"tinymodels aggregate {partials} -o merged" in runs, runs
    assert set(job["permissions"]) == {"packages"}, "merging needs no write access"


def test_pr_job_token_fallback_coverage_and_body(pipeline: dict[str, Any]) -> None:
    job = pipeline["jobs"]["pr"]
    steps = job["steps"]
    app = next(s for s in steps if s.get("uses", "").startswith("actions/create-github-app-token@"))
    assert "vars." in app["if"] and "secrets.TINY_MODELS_APP_PRIVATE_KEY" in app["with"]["private-key"]
    assert {k for k in app["with"] if k.startswith("permission-")} == {"permission-contents",
                                                                      "permission-pull-requests"}
    runs = [s["run"] for s in steps if "run" in s]
    assert any(r.startswith("tinymodels summary update --into tests/utils/tiny_model_summary.json") for r in runs)
    assert any(r.startswith("tinymodels summary coverage") and "--refresh docs/coverage.md" in r for r in runs)
    assert any(r.startswith("tinymodels summary note --pr-token") for r in runs)
    pr = next(s for s in steps if s.get("uses", "").startswith("peter-evans/create-pull-request@"))
    token = pr["with"]["token"].replace(" ", "")
    assert token == "${{steps.app-token.outputs.token||secrets.PR_TOKEN||github.token}}"
    assert pr["with"]["branch"], "a fixed branch makes the PR idempotent"
    assert pr["with"]["add-paths"].split() == ["tests/utils/tiny_model_summary.json", "docs/coverage.md"]
    assert pr["with"]["body-path"]
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in job["concurrency"]["group"], "one PR branch needs one fixed concurrency group"


def test_publish_is_its_own_gated_job(pipeline: dict[str, Any]) -> None:
    jobs = pipeline["jobs"]
    job = jobs["publish"]
    assert job["environment"] == "hub-publish", "approval and the HF_TOKEN secret live in the environment"
    assert "inputs.upload" in job["if"]
    run = next(s for s in job["steps"] if "run" in s and s["run"].startswith("tinymodels upload"))
    assert "--check-organization" in run["run"]
    assert run["env"]["HF_TOKEN"].replace(" ", "") == "${{secrets.HF_TOKEN}}"
    for job_id, other in jobs.items():
        if job_id != "publish":
            assert "HF_TOKEN" not in json.dumps(other), f"{job_id} must not see the Hub token"


# --- every workflow and the action --------------------------------------------------------------


@pytest.mark.parametrize("path", [*workflow_files(), ACTION], ids=lambda p: p.name)
def test_remote_actions_pinned_by_sha_with_version(path: Path) -> None:
    seen = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        match = USES_LINE.match(line)
        if not match or match.group("ref").startswith("./"):
            continue
        seen += 1
        ref, comment = match.group("ref"), (match.group("comment") or "").strip()
        assert SHA_PIN.match(ref), f"not pinned to a full commit SHA: {line.strip()}"
        assert VERSION_COMMENT.match(comment), f"no '# vX.Y.Z' comment: {line.strip()}"
        name, major = ref.split("@")[0], int(comment[1:].split(".")[0])
        if name in NODE24_MAJOR:
            assert major >= NODE24_MAJOR[name], f"{name} {comment} runs on the deprecated node20"
    if path in (PIPELINE, CI):
        assert seen, f"no remote actions found in {path.name}: is the regex still right?"


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_permissions_least_privilege(path: Path) -> None:
    wf = load(path)
    assert wf.get("permissions") in READ_ONLY_TOP, "top-level permissions must be {} or contents: read"
    for job_id, job in wf["jobs"].items():
        perms = job.get("permissions")
        assert isinstance(perms, dict), f"{job_id} must declare its permissions"
        writes = {scope for scope, level in perms.items() if level == "write"}
        allowed = WRITE_SCOPES.get((path.name, job_id), set())
        assert writes <= allowed, f"{job_id} writes {writes - allowed} without needing to"
        assert set(perms.values()) <= {"read", "write", "none"}


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_concurrency_set(path: Path) -> None:
    concurrency = load(path).get("concurrency")
    assert isinstance(concurrency, dict) and concurrency.get("group"), "set a concurrency group"
    assert "cancel-in-progress" in concurrency


def test_checkouts_do_not_persist_credentials() -> None:
    for name, job_id, step in all_steps():
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, f"{name}:{job_id}"


def test_no_expressions_inside_run() -> None:
    for name, job_id, step in all_steps():
        if "run" in step:
            assert "${{" not in step["run"], f"{name}:{job_id}: pass values through env:, not ${{{{ }}}}"


def test_no_command_substitution_in_run_steps() -> None:
    # bash ignores the exit status of a $(...) inside a command's arguments, even with -e and pipefail:
    # `echo "ref=$(docker inspect ...)"` succeeds with an empty value. Outputs come from the CLI or an action.
    for name, job_id, step in all_steps():
        if "run" in step:
            assert "$(" not in step["run"] and "`" not in step["run"], f"{name}:{job_id}: {step['run']}"


def test_run_steps_are_one_line_cli_calls() -> None:
    for name, job_id, step in all_steps():
        if "run" not in step:
            continue
        script = step["run"].strip()
        assert "\n" not in script, f"{name}:{job_id}: keep logic in the CLI, one line per step"
        command = script.split()[0]
        allowed = IMAGE_JOB_COMMANDS if (name, job_id) in IMAGE_JOBS else ALLOWED_COMMANDS
        assert command in allowed, f"{name}:{job_id}: {command!r} is not a call into the CLI"


# --- the composite action -----------------------------------------------------------------------


def test_action_contract(action: dict[str, Any]) -> None:
    assert action["name"] and action["description"]
    assert action["runs"]["using"] == "composite"
    step_ids = {s["id"] for s in action["runs"]["steps"] if "id" in s}
    for step in action["runs"]["steps"]:
        if "run" in step:
            assert step.get("shell"), f"run step {step.get('name')!r} has no shell"
    for name, spec in action["inputs"].items():
        assert spec.get("description"), f"input {name} has no description"
        assert name == name.lower() and "_" not in name, f"input {name} is not kebab-case"
        # Composite action inputs are strings: give string defaults.
        assert "default" not in spec or isinstance(spec["default"], str), name
    for name, spec in action["outputs"].items():
        assert spec.get("description"), f"output {name} has no description"
        value = spec.get("value", "").replace(" ", "")
        match = re.fullmatch(r"\$\{\{steps\.([\w-]+)\.outputs\.([\w-]+)\}\}", value)
        assert match and match.group(1) in step_ids, f"output {name} has no value from a step: {value!r}"
    assert {"report-dir", "built", "failed"} <= set(action["outputs"])
    assert {"model-types", "output-dir", "upload", "organization", "token"} <= set(action["inputs"])


def test_action_installs_itself_and_hides_the_token(action: dict[str, Any]) -> None:
    steps = action["runs"]["steps"]
    install = next(s for s in steps if "install.py" in s.get("run", ""))
    assert install["env"]["ACTION_PATH"].replace(" ", "") == "${{github.action_path}}"
    assert install["env"]["TORCH_INDEX"].replace(" ", "") == "${{inputs.torch-index}}"
    assert install["env"]["VENV"].replace(" ", "").startswith("${{runner.temp}}/"), "its own venv"
    token_steps = [s for s in steps if "inputs.token" in str(s.get("env", {}))]
    assert token_steps and all(
        s["env"].get("HF_TOKEN", "").replace(" ", "") == "${{inputs.token}}" for s in token_steps
    )
    assert all("upload" in s.get("if", "") for s in token_steps), "only the upload step sees the token"


def test_ci_runs_the_action_on_bert_and_the_oldest_session() -> None:
    jobs = load(CI)["jobs"]
    uses = [s for s in jobs["action"]["steps"] if s.get("uses") == "./action"]
    assert uses and uses[0]["with"]["model-types"] == "bert"
    assert "vars.TORCH_INDEX_URL" in uses[0]["with"]["torch-index"]
    assert "oldest" in next(s["run"] for s in jobs["lint-and-test"]["steps"] if "nox -s" in s.get("run", "")).split()


def test_workflow_uses_of_the_action_match_its_inputs(action: dict[str, Any]) -> None:
    inputs = set(action["inputs"])
    required = {name for name, spec in action["inputs"].items() if spec.get("required")}
    uses = [(name, job, s) for name, job, s in all_steps() if s.get("uses") == "./action"]
    assert uses, "no workflow exercises ./action"
    for name, job_id, step in uses:
        keys = set(step.get("with", {}))
        assert keys <= inputs, f"{name}:{job_id}: unknown action inputs {keys - inputs}"
        assert required <= keys, f"{name}:{job_id}: missing required inputs {required - keys}"


# --- image, pins, local tooling -----------------------------------------------------------------


def test_dockerfile_contract() -> None:
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", text, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M)
    assert re.search(r"^ENTRYPOINT \[\"tinymodels\"\]$", text, re.M)
    assert "PYTHONUNBUFFERED=1" in text
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] not in ("root", "0"), "the image must run as a non-root user"
    assert "[models]" in text, "the image carries the optional model libraries"
    assert "org.opencontainers.image.title" in text
    # The torch layer reads constraints/torch.txt only: ci.txt is copied after it.
    assert text.index("COPY constraints/torch.txt") < text.index("pip install") < text.index("COPY constraints/ci.txt")


def _torch_guard() -> str:
    """The Dockerfile's check on TORCH_INDEX_URL, as the shell script it runs."""
    text = (ROOT / "Dockerfile").read_text(encoding="utf-8").replace("\\\n", "\n")
    block = text[text.index('RUN if [ -z "$TORCH_INDEX_URL" ]') + 4:]
    return block[: block.index("fi") + 2]


@pytest.mark.parametrize(("index", "allow", "ok"), [("", "false", False), ("", "true", True),
                                                    ("https://index.example/cpu", "false", True)])
def test_dockerfile_refuses_the_default_torch_index_unless_allowed(index: str, allow: str, ok: bool) -> None:
    proc = subprocess.run(["sh", "-c", _torch_guard()], capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "TORCH_INDEX_URL": index, "ALLOW_DEFAULT_TORCH_INDEX": allow})
    assert (proc.returncode == 0) == ok, proc.stderr
    if not ok:
        assert "TORCH_INDEX_URL is empty" in proc.stderr and "ALLOW_DEFAULT_TORCH_INDEX=true" in proc.stderr


def test_dockerignore_is_an_allow_list() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert lines[0] == "*"
    assert {"!src/", "!pyproject.toml", "!README.md", "!constraints/"} <= set(lines)
    assert not any(line.startswith("!") and line.strip("!/") in ("tests", "docs", ".git", ".github") for line in lines)


def test_torch_pins_agree() -> None:
    def pins(text: str) -> list[str]:
        return sorted(re.findall(r"^(torch(?:vision)?==[\w.]+)$", text, re.M))

    torch_only = pins((ROOT / "constraints" / "torch.txt").read_text(encoding="utf-8"))
    assert len(torch_only) == 2
    assert pins((ROOT / "constraints" / "ci.txt").read_text(encoding="utf-8")) == torch_only
    noxfile = (ROOT / "noxfile.py").read_text(encoding="utf-8")
    assert sorted(re.findall(r'"(torch(?:vision)?==[\w.]+)"', noxfile)) == torch_only
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r'^ARG TORCH_SPEC=""$', dockerfile, re.M), "by default the pins come from torch.txt"
    assert "${TORCH_SPEC:--r /tmp/torch-requirements.txt}" in dockerfile


LINTERS: list[tuple[str, list[str]]] = [
    ("actionlint", ["actionlint", "-no-color", "-oneline"]),
    (
        "check-jsonschema",
        [
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *[str(p) for p in workflow_files()],
        ],
    ),
    ("check-jsonschema", ["check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION)]),
    ("zizmor", ["zizmor", "--offline", "--no-progress", ".github/workflows", "action/action.yml"]),
    ("hadolint", ["hadolint", "--no-color", "Dockerfile"]),
    ("shellcheck", ["shellcheck", "scripts/offline-image-build.sh", ".ci/run"]),
]


@pytest.mark.parametrize(("tool", "argv"), LINTERS, ids=[" ".join(a[:3]) for _, a in LINTERS])
def test_linter_passes(tool: str, argv: list[str]) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (pip install '.[lint]'; `nox -s lint` runs it)")
    proc = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"{' '.join(argv)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
