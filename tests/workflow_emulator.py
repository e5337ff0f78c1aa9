"""Run a GitHub Actions workflow's jobs locally, in order, with the runner's semantics where the glue
depends on them: expressions (`${{ }}`, `if:`), `needs`/`steps` outputs through `$GITHUB_OUTPUT`,
default shells, step timeouts versus cancellation, the composite `./action`, and the artifact actions'
path rules (upload-artifact v4+, download-artifact v5+):

- upload: the artifact's root is the least common ancestor of the search paths (`!` lines exclude);
  files and directories whose names start with "." are left out unless `include-hidden-files: true`;
  an existing name is an error (artifacts are immutable); `if-no-files-found` warn/error/ignore.
- download: by `name`, or one artifact matched by `pattern`, is extracted straight into `path`;
  several are extracted into `path/<artifact name>/`, or all into `path` with `merge-multiple: true`
  (same file names overwrite each other).

Jobs run in one process tree on this machine: `run:` steps through bash (or the shell the workflow
names) with the given `tinymodels` on PATH, `container:` ignored (the image is this checkout). The
`image` job is not run (it needs a registry); its `ref` output is a placeholder digest reference.
"""

from __future__ import annotations

import fnmatch
import json
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

IMAGE_REF = "ghcr.io/owner/tinymodels/builder@sha256:" + "0" * 64
# What actions/checkout brings that the jobs read: the action, the constraints, the committed files.
CHECKOUT_PATHS = ("action", "constraints", "tests/utils", "docs")

# --- expressions -------------------------------------------------------------------------------

_TOKEN = re.compile(r"""\s*(?:
    (?P<str>'(?:[^']|'')*')
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<op>&&|\|\||==|!=|<=|>=|<|>|!|\(|\)|,)
  | (?P<name>[A-Za-z_][\w-]*(?:\.[A-Za-z_*][\w-]*|\[\d+\])*)
)""", re.X)


def _truthy(value: Any) -> bool:
    # GitHub: false, 0, -0, "", null and NaN are falsy; everything else (even [] and {}) is truthy.
    return value not in (False, 0, "", None) or isinstance(value, list | dict)


def _to_str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def _number(value: Any) -> float:
    """GitHub's coercion for comparisons of different types: null 0, booleans 1/0, strings parsed."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return 0.0
        try:
            return float(text)
        except ValueError:
            return float("nan")
    return float("nan")


def _loose_eq(a: Any, b: Any) -> bool:
    # Same type: strings case-insensitively; different types: both coerced to numbers (so an unset
    # variable, null, equals '').
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) or (isinstance(a, int | float) and isinstance(b, int | float)
                              and not isinstance(a, bool) and not isinstance(b, bool)):
        return a == b
    return _number(a) == _number(b)


class Expressions:
    """Evaluate GitHub expressions against a context dict (inputs, github, needs, steps...)."""

    def __init__(self, context: dict[str, Any], status: dict[str, bool]) -> None:
        self.context = context
        self.status = status  # success, failure, cancelled for the status functions

    def lookup(self, path: str) -> Any:
        value: Any = self.context
        for part in re.findall(r"[^.\[\]]+", path):
            if isinstance(value, dict):
                value = value.get(part)
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                return None
        return value

    def functions(self) -> dict[str, Any]:
        def fmt(template: str, *args: Any) -> str:
            return re.sub(r"\{(\d+)\}", lambda m: _to_str(args[int(m.group(1))]), template)

        return {
            "format": fmt,
            "fromJSON": lambda s: json.loads(s),
            "toJSON": lambda v: json.dumps(v),
            "contains": lambda a, b: (_to_str(b).lower() in _to_str(a).lower()) if isinstance(a, str)
            else any(_loose_eq(x, b) for x in a or []),
            "startsWith": lambda a, b: _to_str(a).lower().startswith(_to_str(b).lower()),
            "endsWith": lambda a, b: _to_str(a).lower().endswith(_to_str(b).lower()),
            "success": lambda: self.status["success"],
            "failure": lambda: self.status["failure"],
            "cancelled": lambda: self.status["cancelled"],
            "always": lambda: True,
        }

    def evaluate(self, expr: str) -> Any:
        """Parse and evaluate: `||` < `&&` < comparisons < `!` < literals, paths, calls, parentheses."""
        tokens: list[tuple[str, str]] = []
        pos, expr = 0, expr.strip()
        while pos < len(expr):
            m = _TOKEN.match(expr, pos)
            if not m or m.end() == pos:
                raise ValueError(f"cannot parse expression {expr!r} at {expr[pos:]!r}")
            pos = m.end()
            kind = next(k for k in ("str", "num", "op", "name") if m.group(k) is not None)
            tokens.append((kind, m.group(kind)))
        tokens.append(("end", ""))
        self._tokens, self._pos = tokens, 0
        value = self._or()
        if self._peek() != ("end", ""):
            raise ValueError(f"trailing tokens in expression {expr!r}")
        return value

    def _peek(self) -> tuple[str, str]:
        return self._tokens[self._pos]

    def _take(self, op: str | None = None) -> tuple[str, str]:
        tok = self._tokens[self._pos]
        if op is not None and tok != ("op", op):
            raise ValueError(f"expected {op!r}, got {tok[1]!r}")
        self._pos += 1
        return tok

    def _or(self) -> Any:
        value = self._and()
        while self._peek() == ("op", "||"):
            self._take()
            right = self._and()
            value = value if _truthy(value) else right
        return value

    def _and(self) -> Any:
        value = self._cmp()
        while self._peek() == ("op", "&&"):
            self._take()
            right = self._cmp()
            value = right if _truthy(value) else value
        return value

    def _cmp(self) -> Any:
        value = self._unary()
        while self._peek()[0] == "op" and self._peek()[1] in ("==", "!=", "<", "<=", ">", ">="):
            op = self._take()[1]
            right = self._unary()
            if op in ("==", "!="):
                value = _loose_eq(value, right) == (op == "==")
            else:
                a, b = float(value or 0), float(right or 0)
                value = {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        return value

    def _unary(self) -> Any:
        if self._peek() == ("op", "!"):
            self._take()
            return not _truthy(self._unary())
        return self._primary()

    def _primary(self) -> Any:
        kind, text = self._take()
        if kind == "str":
            return text[1:-1].replace("''", "'")
        if kind == "num":
            return float(text) if "." in text else int(text)
        if (kind, text) == ("op", "("):
            value = self._or()
            self._take(")")
            return value
        if kind != "name":
            raise ValueError(f"unexpected {text!r}")
        if text in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[text]
        if self._peek() == ("op", "("):
            self._take()
            args = []
            while self._peek() != ("op", ")"):
                args.append(self._or())
                if self._peek() == ("op", ","):
                    self._take()
            self._take(")")
            return self.functions()[text](*args)
        return self.lookup(text)

    def render(self, value: Any) -> Any:
        """`${{ }}` in a string: a lone expression keeps its type, else each is interpolated."""
        if isinstance(value, dict):
            return {k: self.render(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.render(v) for v in value]
        if not isinstance(value, str) or "${{" not in value:
            return value
        lone = re.fullmatch(r"\s*\$\{\{((?:(?!\}\}).)*)\}\}\s*", value, re.S)
        if lone:
            return self.evaluate(lone.group(1))
        return re.sub(r"\$\{\{(.*?)\}\}", lambda m: _to_str(self.evaluate(m.group(1))), value, flags=re.S)

    def condition(self, cond: Any) -> bool:
        if cond is None:
            return bool(self.status["success"])
        if isinstance(cond, bool):
            return cond
        text = str(cond).strip()
        if text.startswith("${{") and text.endswith("}}"):
            text = text[3:-2]
        return _truthy(self.evaluate(text))


# --- artifacts ------------------------------------------------------------------------------------


class ArtifactError(RuntimeError):
    """What the artifact actions fail with."""


def _hidden(rel: Path) -> bool:
    return any(part.startswith(".") for part in rel.parts)


@dataclass
class Artifacts:
    """The run's artifact store: name -> {path inside the artifact: bytes}."""

    store: dict[str, dict[str, bytes]] = field(default_factory=dict)

    def upload(self, workspace: Path, name: str, path: str, include_hidden: bool = False,
               if_no_files_found: str = "warn") -> list[str]:
        if name in self.store:
            raise ArtifactError(f"an artifact named {name!r} already exists (artifacts are immutable)")
        lines = [line.strip() for line in path.splitlines() if line.strip()]
        includes = [workspace / line.rstrip("/") for line in lines if not line.startswith("!")]
        excludes = [workspace / line[1:].rstrip("/") for line in lines if line.startswith("!")]
        files: list[Path] = []
        for inc in includes:
            matched = sorted(workspace.glob(str(inc.relative_to(workspace)))) if any(c in str(inc) for c in "*?[") \
                else ([inc] if inc.exists() else [])
            for m in matched:
                files += [m] if m.is_file() else sorted(p for p in m.rglob("*") if p.is_file())
        files = [f for f in files if not any(f == e or e in f.parents for e in excludes)]
        # The root: the search path itself (a file's parent) or the least common ancestor of several.
        roots = [inc if inc.is_dir() else inc.parent for inc in includes]
        root = Path(os.path.commonpath([str(r) for r in roots])) if roots else workspace
        if not include_hidden:
            files = [f for f in files if not _hidden(f.relative_to(root))]
        if not files:
            if if_no_files_found == "error":
                raise ArtifactError(f"no files were found with the provided path: {path!r}")
            return []
        self.store[name] = {str(f.relative_to(root)): f.read_bytes() for f in files}
        return sorted(self.store[name])

    def download(self, workspace: Path, path: str = "", name: str = "", pattern: str = "",
                 merge_multiple: bool = False) -> list[str]:
        dest = workspace / path if path else workspace
        if name:
            if name not in self.store:
                raise ArtifactError(f"artifact {name!r} not found")
            targets = {name: dest}
        else:
            matched = sorted(n for n in self.store if not pattern or fnmatch.fnmatchcase(n, pattern))
            if len(matched) == 1 or merge_multiple:
                targets = {n: dest for n in matched}
            else:
                targets = {n: dest / n for n in matched}
        for artifact, where in targets.items():
            for rel, data in self.store[artifact].items():
                target = where / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        return list(targets)


# --- the runner -----------------------------------------------------------------------------------


@dataclass
class StepRecord:
    job: str
    step: str
    outcome: str  # success | failure | skipped
    env: dict[str, str] = field(default_factory=dict)
    output: str = ""


@dataclass
class JobResult:
    result: str  # success | failure | skipped | cancelled
    outputs: dict[str, Any] = field(default_factory=dict)
    instances: int = 0


def _parse_github_file(path: Path) -> dict[str, str]:
    """`key=value` lines and `key<<DELIM` heredocs, as the runner reads $GITHUB_OUTPUT."""
    values: dict[str, str] = {}
    if not path.exists():
        return values
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delim = line.split("<<", 1)
            body = []
            i += 1
            while lines[i] != delim:
                body.append(lines[i])
                i += 1
            values[key] = "\n".join(body)
        elif "=" in line:
            key, value = line.split("=", 1)
            values[key] = value
        i += 1
    return values


class WorkflowRun:
    """One emulated run of a workflow; `run()` executes its jobs in order."""

    def __init__(self, workflow: Path, root: Path, tmp: Path, *, event: str = "workflow_dispatch",
                 inputs: dict[str, Any] | None = None, secrets: dict[str, str] | None = None,
                 variables: dict[str, str] | None = None, bin_dir: Path | None = None,
                 env: dict[str, str] | None = None, seed: Any = None,
                 timed_out: set[tuple[str, int | None, str]] | None = None) -> None:
        self.workflow = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        self.root, self.tmp = root, tmp
        self.event = event
        self.secrets = {"GITHUB_TOKEN": "ghs_GITHUBTOKEN", **(secrets or {})}
        self.vars = variables or {}
        self.bin_dir = bin_dir
        self.base_env = env or {}
        self.seed = seed  # seed(job_id, matrix, workspace): e.g. restore a build cache
        self.timed_out = timed_out or set()  # (job, shard or None, step name or uses): runs, then times out
        self.timeouts: list[str] = []  # "job-instance: step" of the steps that timed out
        self.artifacts = Artifacts()
        self.jobs: dict[str, JobResult] = {}
        self.steps: list[StepRecord] = []
        self.pull_requests: list[dict[str, Any]] = []
        self.summaries: dict[str, str] = {}
        self.inputs = self._inputs(inputs or {})

    def _inputs(self, given: dict[str, Any]) -> dict[str, Any]:
        on = self.workflow.get("on", self.workflow.get(True)) or {}
        if self.event == "schedule":
            return {}  # a scheduled run has no inputs: every `inputs.x` is null
        spec = (on.get(self.event) or {}).get("inputs") or {}
        unknown = set(given) - set(spec)
        if unknown:
            raise ValueError(f"the workflow has no input(s) {sorted(unknown)}")
        values = {}
        for name, s in spec.items():
            value = given.get(name, s.get("default"))
            if s.get("type") == "number" and value not in (None, ""):
                value = int(value)
            if s.get("type") == "boolean":
                value = value in (True, "true")
            values[name] = value
        return values

    def github(self, **extra: Any) -> dict[str, Any]:
        return {"event_name": self.event, "repository": "owner/tinymodels", "server_url": "https://github.com",
                "run_id": "4242", "sha": "f" * 40, "ref": "refs/heads/main", "workflow": "tiny-models",
                "actor": "someone", "token": self.secrets["GITHUB_TOKEN"], **extra}

    # -- jobs --
    def run(self) -> WorkflowRun:
        for job_id, job in self.workflow["jobs"].items():
            self.jobs[job_id] = self._run_job(job_id, job)
        return self

    def _needs(self, job: dict[str, Any]) -> list[str]:
        needs = job.get("needs", [])
        return [needs] if isinstance(needs, str) else list(needs)

    def _run_job(self, job_id: str, job: dict[str, Any]) -> JobResult:
        needs = {n: {"result": self.jobs[n].result, "outputs": self.jobs[n].outputs} for n in self._needs(job)}
        base = {"github": self.github(), "inputs": self.inputs, "vars": self.vars, "secrets": self.secrets,
                "needs": needs}
        all_ok = all(n["result"] == "success" for n in needs.values())
        expr = Expressions(base, {"success": all_ok, "failure": not all_ok, "cancelled": False})
        if not expr.condition(job.get("if")):
            return JobResult("skipped")
        if job_id == "image":
            return JobResult("success", {"ref": IMAGE_REF})
        matrix_spec = (job.get("strategy") or {}).get("matrix")
        instances: list[dict[str, Any] | None] = [None]
        if matrix_spec is not None:
            matrix = expr.render(matrix_spec)
            instances = list(matrix["include"])
            if len(instances) > 256:
                raise ValueError(f"{job_id}: a matrix of {len(instances)} jobs (GitHub allows 256)")
        results = [self._run_instance(job_id, job, base, m) for m in instances]
        ok = all(r.result == "success" for r in results)
        return JobResult("success" if ok else "failure", results[-1].outputs if len(results) == 1 else {},
                         len(results))

    def _run_instance(self, job_id: str, job: dict[str, Any], base: dict[str, Any],
                      matrix: dict[str, Any] | None) -> JobResult:
        shard = matrix.get("shard") if matrix else None
        name = job_id if matrix is None else f"{job_id}-{shard}"
        workspace = self.tmp / name / "workspace"
        temp = self.tmp / name / "temp"
        workspace.mkdir(parents=True)
        temp.mkdir(parents=True)
        ctx = {**base, "matrix": matrix or {}, "steps": {}, "runner": {"temp": str(temp), "os": "Linux"},
               "env": {}, "job": {}}
        shell = ((job.get("defaults") or {}).get("run") or {}).get("shell") or \
            ((self.workflow.get("defaults") or {}).get("run") or {}).get("shell")
        if self.seed:
            self.seed(job_id, matrix, workspace)
        state = {"failed": False, "cancelled": False}
        for step in job.get("steps", []):
            step_name = step.get("name") or step.get("uses") or step.get("run", "")[:40]
            expr = self._expr(ctx, state)
            if not expr.condition(step.get("if")):
                self.steps.append(StepRecord(name, step_name, "skipped"))
                if step.get("id"):
                    ctx["steps"][step["id"]] = {"outputs": {}, "outcome": "skipped", "conclusion": "skipped"}
                continue
            outcome, outputs = self._step(name, step, step_name, ctx, state, workspace, temp, shell)
            if {(job_id, shard, step_name), (job_id, shard, step.get("uses"))} & self.timed_out:
                self.timeouts.append(f"{name}: {step_name}")
                if step.get("timeout-minutes"):
                    outcome = "failure"  # a step timeout fails the step; the job goes on
                else:
                    state["cancelled"] = True  # the job's timeout cancels the job
                    outcome = "failure"
            if outcome == "failure":
                state["failed"] = True
            if step.get("id"):
                ctx["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome, "conclusion": outcome}
        self.summaries[name] = (temp / "summary.md").read_text(encoding="utf-8") \
            if (temp / "summary.md").exists() else ""
        outputs = self._expr(ctx, state).render(job.get("outputs") or {})
        result = "cancelled" if state["cancelled"] else ("failure" if state["failed"] else "success")
        return JobResult(result, outputs)

    def _expr(self, ctx: dict[str, Any], state: dict[str, bool]) -> Expressions:
        return Expressions(ctx, {"success": not state["failed"] and not state["cancelled"],
                                 "failure": state["failed"], "cancelled": state["cancelled"]})

    # -- steps --
    def _step(self, job: str, step: dict[str, Any], step_name: str, ctx: dict[str, Any], state: dict[str, bool],
              workspace: Path, temp: Path, shell: str | None) -> tuple[str, dict[str, Any]]:
        expr = self._expr(ctx, state)
        env = {k: _to_str(v) for k, v in expr.render(step.get("env") or {}).items()}
        if "run" in step:
            script = expr.render(step["run"])
            return self._shell(job, step_name, script, step.get("shell") or shell, env, workspace, temp)
        uses = step["uses"]
        with_ = {k: expr.render(v) for k, v in (step.get("with") or {}).items()}
        record = StepRecord(job, step_name, "success", env)
        self.steps.append(record)
        try:
            outputs = self._action(uses, with_, ctx, state, workspace, temp, job)
        except ArtifactError as exc:
            record.outcome, record.output = "failure", str(exc)
            return "failure", {}
        return record.outcome, outputs

    def _shell(self, job: str, step_name: str, script: str, shell: str | None, env: dict[str, str],
               workspace: Path, temp: Path) -> tuple[str, dict[str, Any]]:
        script_file = temp / "step.sh"
        script_file.write_text(script + "\n", encoding="utf-8")
        if shell in (None, ""):
            argv = ["bash", "-e", str(script_file)]  # the runner's default when bash exists
        elif shell == "bash":
            argv = ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)]
        elif shell == "sh":
            argv = ["sh", "-e", str(script_file)]
        elif shell == "python":
            argv = ["python3", str(script_file)]
        else:
            raise ValueError(f"shell {shell!r} is not emulated")
        output_file = temp / "output"
        output_file.write_text("")
        path = os.pathsep.join(p for p in (str(self.bin_dir) if self.bin_dir else "", os.environ["PATH"]) if p)
        full_env = {**self.base_env, "PATH": path, "HOME": os.environ.get("HOME", str(temp)), "CI": "true",
                    "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": str(workspace), "RUNNER_TEMP": str(temp),
                    "GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": str(temp / "summary.md"),
                    "GITHUB_ENV": str(temp / "env"), "GITHUB_PATH": str(temp / "path"), **env}
        proc = subprocess.run(argv, cwd=workspace, env=full_env, capture_output=True, text=True, timeout=900)
        outcome = "success" if proc.returncode == 0 else "failure"
        self.steps.append(StepRecord(job, step_name, outcome, env, proc.stdout + proc.stderr))
        return outcome, _parse_github_file(output_file)

    def _action(self, uses: str, with_: dict[str, Any], ctx: dict[str, Any], state: dict[str, bool],
                workspace: Path, temp: Path, job: str) -> dict[str, Any]:
        name = uses.split("@")[0]
        if name == "actions/checkout":
            for rel in CHECKOUT_PATHS:
                src = self.root / rel
                if src.is_dir():
                    shutil.copytree(src, workspace / rel, dirs_exist_ok=True)
            return {}
        if name == "actions/upload-artifact":
            hidden = _to_str(with_.get("include-hidden-files", False)) == "true"
            self.artifacts.upload(workspace, str(with_["name"]), str(with_["path"]), hidden,
                                  str(with_.get("if-no-files-found", "warn")))
            return {}
        if name == "actions/download-artifact":
            self.artifacts.download(workspace, str(with_.get("path", "")), str(with_.get("name", "") or ""),
                                    str(with_.get("pattern", "") or ""),
                                    _to_str(with_.get("merge-multiple", False)) == "true")
            return {}
        if name == "actions/create-github-app-token":
            return {"token": "ghs_APPTOKEN"}
        if name == "peter-evans/create-pull-request":
            paths = [p.strip() for p in str(with_.get("add-paths", "")).splitlines() if p.strip()]
            missing = [p for p in paths if not (workspace / p).exists()]
            if missing:
                raise ArtifactError(f"add-paths not in the workspace: {missing}")
            body = with_.get("body", "")
            if with_.get("body-path"):
                body = (workspace / str(with_["body-path"])).read_text(encoding="utf-8")
            self.pull_requests.append({**with_, "body": body,
                                       "files": {p: (workspace / p).read_text(encoding="utf-8") for p in paths}})
            return {"pull-request-number": "1"}
        if name == "./action":
            return self._composite(with_, ctx, state, workspace, temp, job)
        raise ValueError(f"no emulation for {uses}")

    def _composite(self, with_: dict[str, Any], ctx: dict[str, Any], state: dict[str, bool], workspace: Path,
                   temp: Path, job: str) -> dict[str, Any]:
        action = yaml.safe_load((workspace / "action" / "action.yml").read_text(encoding="utf-8"))
        unknown = set(with_) - set(action["inputs"])
        if unknown:
            raise ValueError(f"./action has no input(s) {sorted(unknown)}")
        inputs = {k: _to_str(with_.get(k, spec.get("default", ""))) for k, spec in action["inputs"].items()}
        inner = {**ctx, "inputs": inputs, "steps": {},
                 "github": {**ctx["github"], "action_path": str(workspace / "action")}}
        inner_state = dict(state)
        for step in action["runs"]["steps"]:
            expr = self._expr(inner, inner_state)
            if not expr.condition(step.get("if")):
                continue
            if "uses" in step:
                raise ValueError(f"./action step {step.get('name')} ({step['uses']}) would run: not emulated")
            outcome, outputs = self._step(job, step, step.get("name", ""), inner, inner_state, workspace, temp,
                                          step.get("shell"))
            if outcome == "failure":
                inner_state["failed"] = True
            if step.get("id"):
                inner["steps"][step["id"]] = {"outputs": outputs, "outcome": outcome}
        if inner_state["failed"]:
            state["failed"] = True
        return {k: _to_str(self._expr(inner, inner_state).render(v.get("value", "")))
                for k, v in (action.get("outputs") or {}).items()}
