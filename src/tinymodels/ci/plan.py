"""CI matrix planning: split model types into shards of similar expected cost.

The matrix is shaped for GitHub's ``fromJSON``::

    {"include": [{"shard": 0, "model_types": "bert,gpt2", "cost": 12.3}, ...]}

``model_types`` is the comma string a shard passes to ``tinymodels build --model-types``.
Costs come from a previous creation report when one is given (entry-level ``seconds``,
else the sum of its architectures' ``seconds``), otherwise from a deterministic estimate
(a fixed overhead per model type plus a constant per architecture). Shards are filled by
greedy LPT (longest processing time first), so the same input always gives the same matrix.
"""

from __future__ import annotations

import heapq
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, TypedDict

from tinymodels.errors import ReportError, UsageError
from tinymodels.run import reports
from tinymodels.run.report_types import PYTORCH

# Estimate, in seconds, when no timing was recorded: tokenizer training and processor
# set-up are paid once per model type, then each architecture is built and validated.
SECONDS_PER_MODEL_TYPE: Final[float] = 5.0
SECONDS_PER_ARCHITECTURE: Final[float] = 10.0
# GitHub Actions refuses a matrix of more than 256 jobs per workflow run.
MAX_SHARDS: Final[int] = 256


class MatrixEntry(TypedDict):
    """One ``include`` item of the matrix: what a shard job receives."""

    shard: int
    model_types: str  # comma-separated
    cost: float


@dataclass(frozen=True)
class Shard:
    """One matrix job: the model types it builds and their summed expected cost."""

    index: int
    model_types: tuple[str, ...]
    cost: float

    def as_matrix_entry(self) -> MatrixEntry:
        return {"shard": self.index, "model_types": ",".join(self.model_types), "cost": round(self.cost, 1)}


def _number(value: object) -> float | None:
    # bool is an int subclass; a True "seconds" is a corrupted report, not one second.
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def timings_from_report(report: Mapping[str, object], source: str = "timings") -> dict[str, float]:
    """Seconds per model type recorded in a creation report (types without timing are absent).

    The report is read as plain JSON (a previous run's, perhaps of an older version), hence `object`
    and the checks of each value rather than `report_types.Entry`."""
    timings: dict[str, float] = {}
    for config_name, entry in report.items():
        if not isinstance(entry, Mapping):
            raise ReportError(f"{source}: entry {config_name!r} is not a JSON object")
        model_type = entry.get("model_type")
        if not isinstance(model_type, str) or not model_type:
            continue
        seconds = _number(entry.get("seconds"))
        if seconds is None:
            archs = entry.get(PYTORCH)
            if isinstance(archs, Mapping):
                per_arch = [_number(i.get("seconds")) for i in archs.values() if isinstance(i, Mapping)]
                known = [s for s in per_arch if s is not None]
                seconds = sum(known) if known else None
        if seconds is not None:
            # Several config classes may share a model type: they run in the same shard.
            timings[model_type] = timings.get(model_type, 0.0) + seconds
    return timings


def load_timings(path: Path) -> dict[str, float]:
    """Read timings from a creation report file, a report directory or an output directory.

    A malformed report raises `ReportError`; a missing one is the caller's business.
    """
    from tinymodels.ci.aggregate import find_report_file

    report_path = find_report_file(path, reports.CREATION_REPORT)
    try:
        data = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReportError(f"{report_path}: cannot read timings: {exc}") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{report_path}: expected a JSON object mapping config classes to entries")
    return timings_from_report(data, str(report_path))


def estimate_cost(model_type: str, architectures_for: Callable[[str], Sequence[str]] | None = None) -> float:
    """Deterministic estimate in seconds: an overhead per type plus a constant per architecture."""
    if architectures_for is None:
        from tinymodels.config.discover import architectures_for as discovered

        architectures_for = discovered
    n = len(architectures_for(model_type))
    return SECONDS_PER_MODEL_TYPE + SECONDS_PER_ARCHITECTURE * max(n, 1)


def expected_costs(
    model_types: Sequence[str],
    timings: Mapping[str, float] | None = None,
    architectures_for: Callable[[str], Sequence[str]] | None = None,
) -> dict[str, float]:
    """Cost of each model type: recorded timing when known, else the (calibrated) estimate.

    When some types have timings, estimates for the others are scaled by the ratio of
    recorded to estimated seconds over the timed types, so both are in the same unit
    (a runner twice as slow as the constants assume stays balanced).
    """
    timings = timings or {}
    missing = [t for t in model_types if t not in timings]
    if not missing:
        return {t: timings[t] for t in model_types}
    estimates = {t: estimate_cost(t, architectures_for) for t in model_types}
    timed = [t for t in model_types if t in timings]
    scale = 1.0
    if timed:
        recorded = sum(timings[t] for t in timed)
        estimated = sum(estimates[t] for t in timed)
        if recorded > 0 and estimated > 0:
            scale = recorded / estimated
    return {t: timings[t] if t in timings else estimates[t] * scale for t in model_types}


def check_shard_count(shards: int) -> None:
    """Refuse a shard count GitHub cannot run (it would fail the run after the plan job)."""
    if shards < 1:
        raise UsageError(f"--shards must be at least 1 (got {shards})")
    if shards > MAX_SHARDS:
        raise UsageError(f"--shards {shards} exceeds GitHub Actions' limit of {MAX_SHARDS} jobs per matrix; "
                         f"use at most {MAX_SHARDS} (each shard then builds more model types)")


def assign_shards(costs: Mapping[str, float], shards: int) -> list[Shard]:
    """Greedy LPT: the costliest remaining type goes to the least-loaded shard.

    Ties are broken by name and by shard index, so the result is deterministic. There are
    never more shards than model types, so no shard is empty.
    """
    check_shard_count(shards)
    if not costs:
        raise UsageError("nothing to plan: no model types")
    n = min(shards, len(costs))
    heap: list[tuple[float, int]] = [(0.0, i) for i in range(n)]
    members: list[list[str]] = [[] for _ in range(n)]
    loads = [0.0] * n
    for model_type in sorted(costs, key=lambda t: (-costs[t], t)):
        load, index = heapq.heappop(heap)
        members[index].append(model_type)
        loads[index] = load + costs[model_type]
        heapq.heappush(heap, (loads[index], index))
    # Alphabetical inside a shard: stable, readable job names and build logs.
    return [Shard(i, tuple(sorted(members[i])), loads[i]) for i in range(n)]


def matrix(shards: Sequence[Shard]) -> dict[str, list[MatrixEntry]]:
    """The ``fromJSON``-ready matrix."""
    return {"include": [s.as_matrix_entry() for s in shards]}


def matrix_json(shards: Sequence[Shard]) -> str:
    """Single-line JSON (a `$GITHUB_OUTPUT` value must fit on one line)."""
    return json.dumps(matrix(shards), separators=(",", ":"), ensure_ascii=False)
