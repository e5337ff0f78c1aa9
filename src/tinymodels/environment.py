"""The one reader of runtime environment variables: typed accessors, bad values are usage errors.

Every `TINYMODELS_*`, `HF_*`, `GITHUB_*` and `CI` variable tinymodels reads goes through this
module (a test fails on an `os.environ` access anywhere else in the package), so `VARIABLES`
is the complete list the README documents. An empty value counts as unset, as in a shell's
`VAR= tinymodels …`. A value that does not parse raises `UsageError` (exit 2) naming the
variable, instead of a traceback from deep inside a command.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from tinymodels.errors import UsageError

# Name -> meaning; README's "Environment variables" table lists exactly these.
VARIABLES: Final[dict[str, str]] = {
    "HF_TOKEN": "Hub token for `upload`/`--upload` (never logged or written anywhere)",
    "HF_ENDPOINT": "Hub endpoint (e.g. a private Hub); also the link target of the job summary and where `--tokenizer-source original` fetches from",
    "TINYMODELS_NUM_WORKERS": "default for `build --num-workers` (an integer ≥ 0)",
    "TINYMODELS_DEBUG": "any non-empty value: print full tracebacks for fatal errors and worker failures",
    "TINYMODELS_HUB_TIMEOUT": "default for `upload --timeout`, seconds per Hub request (a number > 0)",
    "TINYMODELS_UPLOAD_BACKOFF": "base seconds of the upload retry backoff (a number ≥ 0; tests set it low)",
    "TINYMODELS_RUN_STATS": "file that `build` writes its run statistics (JSON) to",
    "TINYMODELS_WORKER_MAX_RSS_MB": "resident memory (MB) above which a build worker is replaced (an integer ≥ 1)",
    "TINYMODELS_FAULT_INJECT": "testing only: `bert=crash,gpt2=hang,vit=exit` makes workers fail on purpose",
    "GITHUB_ACTIONS": "`true`: log groups and annotations in GitHub Actions' format",
    "CI": "any non-empty value: running in CI (no interactive progress bar)",
    "GITHUB_OUTPUT": "file that `plan` and `summary` append step outputs to",
    "GITHUB_STEP_SUMMARY": "file that `build` and `aggregate` append the Markdown job summary to",
}


def _raw(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The value of a documented variable, None when unset or empty."""
    if name not in VARIABLES:
        raise KeyError(f"{name} is not a documented tinymodels variable: add it to environment.VARIABLES")
    value = (os.environ if env is None else env).get(name)
    return value if value else None


def _number(name: str, kind: type[int] | type[float], default: int | float, minimum: float, strict: bool = False,
            env: Mapping[str, str] | None = None) -> int | float:
    """`name` parsed as `kind`, at least `minimum` (above it when `strict`), else `default` when unset."""
    raw = _raw(name, env)
    if raw is None:
        return default
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    try:
        value = kind(raw.strip())
    except ValueError:
        raise UsageError(f"{name}={raw!r}: expected {'an integer' if kind is int else 'a number'} {bound}") from None
    if value < minimum or (strict and value == minimum) or value != value:  # value != value: NaN
        raise UsageError(f"{name}={raw!r}: expected {'an integer' if kind is int else 'a number'} {bound}")
    return value


def num_workers() -> int:
    """`TINYMODELS_NUM_WORKERS`: default worker count of `build` (1; 0 builds in-process)."""
    return int(_number("TINYMODELS_NUM_WORKERS", int, 1, 0))


def debug() -> bool:
    """`TINYMODELS_DEBUG`: print full tracebacks (any non-empty value)."""
    return _raw("TINYMODELS_DEBUG") is not None


def hub_timeout(default: float) -> float:
    """`TINYMODELS_HUB_TIMEOUT`: seconds per Hub request."""
    return float(_number("TINYMODELS_HUB_TIMEOUT", float, default, 0, strict=True))


def upload_backoff(default: float) -> float:
    """`TINYMODELS_UPLOAD_BACKOFF`: base seconds between upload attempts."""
    return float(_number("TINYMODELS_UPLOAD_BACKOFF", float, default, 0))


def worker_max_rss_mb(default: int) -> int:
    """`TINYMODELS_WORKER_MAX_RSS_MB`: memory above which a worker is replaced."""
    return int(_number("TINYMODELS_WORKER_MAX_RSS_MB", int, default, 1))


def fault_inject() -> str | None:
    """`TINYMODELS_FAULT_INJECT`: the raw fault specification (parsed by `run.worker_process.parse_faults`)."""
    return _raw("TINYMODELS_FAULT_INJECT")


def run_stats_path() -> Path | None:
    """`TINYMODELS_RUN_STATS`: where `build` writes its run statistics, if anywhere."""
    raw = _raw("TINYMODELS_RUN_STATS")
    return Path(raw) if raw else None


def hf_token() -> str | None:
    """`HF_TOKEN`: the Hub token (never log it)."""
    return _raw("HF_TOKEN")


def hf_endpoint(env: Mapping[str, str] | None = None) -> str | None:
    """`HF_ENDPOINT`: the Hub endpoint, if not the public Hub."""
    return _raw("HF_ENDPOINT", env)


def in_github_actions(env: Mapping[str, str] | None = None) -> bool:
    """`GITHUB_ACTIONS=true`."""
    return _raw("GITHUB_ACTIONS", env) == "true"


def in_ci(env: Mapping[str, str] | None = None) -> bool:
    """`CI` set, or GitHub Actions."""
    return _raw("CI", env) is not None or in_github_actions(env)


def github_file(name: str, env: Mapping[str, str] | None = None) -> str | None:
    """The path in `GITHUB_OUTPUT` or `GITHUB_STEP_SUMMARY`, None outside Actions."""
    if name not in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"):
        raise KeyError(f"{name} is not a GitHub Actions file variable")
    return _raw(name, env)


def snapshot(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """A copy of `env`, or of the process environment, for code that passes one around."""
    return dict(os.environ if env is None else env)


def set_default(name: str, value: str) -> None:
    """Set a variable a library reads (TOKENIZERS_PARALLELISM, OMP_NUM_THREADS) unless the user did."""
    os.environ.setdefault(name, value)
