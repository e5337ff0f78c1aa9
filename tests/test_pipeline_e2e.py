"""The workflow's commands in sequence: plan → shards in separate processes → aggregate → summary update.

The merged result must equal a one-process build of the same types (timings aside).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import UPSTREAM_SUMMARY, run_cli
from tinymodels.run import reports

TYPES = ("bert", "vit", "wav2vec2")  # the same types as the session's `built` one-process build


def test_plan_shards_aggregate_summary(built: Path, tmp_path: Path) -> None:
    github_output = tmp_path / "github_output"
    github_output.touch()
    plan = run_cli("plan", *TYPES, "--shards", "2", env={"GITHUB_OUTPUT": str(github_output)})
    assert plan.returncode == 0, plan.stderr
    matrix = json.loads(plan.stdout)
    assert f"matrix={json.dumps(matrix, separators=(',', ':'))}" in github_output.read_text() or \
        json.loads(github_output.read_text().split("matrix=", 1)[1].splitlines()[0]) == matrix
    shards = matrix["include"]
    assert len(shards) == 2
    assert sorted(t for s in shards for t in s["model_types"].split(",")) == sorted(TYPES)

    partials = []
    for shard in shards:
        out = tmp_path / f"shard-{shard['shard']}"
        proc = run_cli("build", "--model-types", shard["model_types"], "-o", str(out))
        assert proc.returncode == 0, proc.stderr[-2000:]
        partials.append(out / "reports")

    merged = tmp_path / "merged"
    agg = run_cli("aggregate", *map(str, partials), "-o", str(merged))
    assert agg.returncode == 0, agg.stderr

    single = built / "reports"
    for name in (reports.SUMMARY, reports.FAILED_REPORT, reports.SIMPLE_REPORT, reports.SIMPLE_FAILED_REPORT):
        assert (merged / name).read_bytes() == (single / name).read_bytes(), name
    merged_creation = json.loads((merged / reports.CREATION_REPORT).read_text())
    single_creation = json.loads((single / reports.CREATION_REPORT).read_text())
    assert reports.without_timings(merged_creation) == reports.without_timings(single_creation)

    target = tmp_path / "tests" / "utils" / "tiny_model_summary.json"
    target.parent.mkdir(parents=True)
    shutil.copy(UPSTREAM_SUMMARY, target)
    before = json.loads(target.read_text())
    upd = run_cli("summary", "update", "--into", str(target), "--from", str(merged))
    assert upd.returncode == 0, upd.stderr
    after = json.loads(target.read_text())
    ours = json.loads((merged / reports.SUMMARY).read_text())
    assert set(after) == set(before) | set(ours)
    assert {"ViTModel", "TFViTModel"} <= set(after["ViTModel"]["model_classes"])  # union with upstream's TF classes
    assert list(after) == sorted(after)
