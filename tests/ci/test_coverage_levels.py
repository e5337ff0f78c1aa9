"""Level counts of the coverage table (`ci.coverage`) summed over a real creation report."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import build_in_process

TYPES = ("gpt2", "llama", "qwen2", "roberta", "llava", "whisper", "modernbert", "marian")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "coverage-levels", TYPES)


def test_level_counts_sum_the_report(built: dict[str, Any]) -> None:
    from tinymodels.ci.coverage import level_counts, levels_table

    report = {t: built[t] for t in TYPES}
    counts = level_counts(report)
    archs = sum(len(built[t]["pytorch"]) for t in TYPES)
    assert counts["load"]["ok"] == archs and counts["load"]["failed"] == 0
    tasks = sum(len(i["levels"].get("pipeline", {})) for t in TYPES for i in built[t]["pytorch"].values())
    assert counts["pipeline"]["ok"] + counts["pipeline"]["skipped"] == tasks
    assert any(row.startswith("| train |") for row in levels_table(report))
