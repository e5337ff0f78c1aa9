"""The emulator the glue test relies on: artifact path rules and expressions as the docs state them."""

from __future__ import annotations

from pathlib import Path

import pytest

from workflow_emulator import ArtifactError, Artifacts, Expressions


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _shard(ws: Path, name: str = "out") -> None:
    (ws / name / "bert" / "BertModel").mkdir(parents=True)
    (ws / name / "bert" / "BertModel" / "config.json").write_text("{}")
    (ws / name / "bert" / ".tinymodels.json").write_text("{}")
    (ws / name / "reports").mkdir()
    (ws / name / "reports" / "r.json").write_text("{}")


def test_upload_root_excludes_and_hidden_files(tmp_path: Path) -> None:
    _shard(tmp_path)
    store = Artifacts()
    assert store.upload(tmp_path, "models", "out/\n!out/reports/") == ["bert/BertModel/config.json"]
    assert store.upload(tmp_path, "all", "out/\n!out/reports/", include_hidden=True) == [
        "bert/.tinymodels.json", "bert/BertModel/config.json"]
    assert store.upload(tmp_path, "reports", "out/reports/") == ["r.json"]
    with pytest.raises(ArtifactError, match="already exists"):
        store.upload(tmp_path, "reports", "out/reports/")
    with pytest.raises(ArtifactError, match="no files"):
        store.upload(tmp_path, "none", "nowhere/", if_no_files_found="error")
    assert store.upload(tmp_path, "none", "nowhere/") == [] and "none" not in store.store


@pytest.mark.parametrize(("count", "merge", "expected"), [
    (1, False, ["r.json"]),                                   # one match: straight into path
    (2, False, ["reports-0/r.json", "reports-1/r.json"]),     # several: one directory each
    (2, True, ["r.json"]),                                    # merge-multiple: same names overwrite
])
def test_download_by_pattern(tmp_path: Path, count: int, merge: bool, expected: list[str]) -> None:
    store = Artifacts({f"reports-{i}": {"r.json": b"{}"} for i in range(count)} | {"models-0": {"x": b""}})
    store.download(tmp_path, "partials", pattern="reports-*", merge_multiple=merge)
    assert _tree(tmp_path / "partials") == expected


def test_download_by_name_goes_straight_into_path(tmp_path: Path) -> None:
    store = Artifacts({"merged-reports": {"a.json": b"{}"}, "other": {"b": b""}})
    store.download(tmp_path, "merged", name="merged-reports")
    assert _tree(tmp_path / "merged") == ["a.json"]
    with pytest.raises(ArtifactError):
        store.download(tmp_path, "x", name="missing")


@pytest.mark.parametrize(("expr", "value"), [
    ("inputs.model-types && format('--model-types={0}', inputs.model-types) || '--all'", "--all"),
    ("inputs.shards || 8", 8),
    ("vars.APP_ID != ''", False),                      # an unset variable is null, and null == ''
    ("!cancelled() && needs.plan.result == 'SUCCESS'", True),   # strings compare case-insensitively
    ("secrets.PR_TOKEN && 'secret' || 'github-token'", "github-token"),
    ("contains('a,b', 'B') && startsWith('tiny', 'ti')", True),
])
def test_expressions(expr: str, value: object) -> None:
    ctx = {"inputs": {"model-types": ""}, "vars": {}, "secrets": {}, "needs": {"plan": {"result": "success"}}}
    status = {"success": True, "failure": False, "cancelled": False}
    assert Expressions(ctx, status).evaluate(expr) == value


def test_render_keeps_the_type_of_a_lone_expression() -> None:
    e = Expressions({"inputs": {"upload": True, "n": 3}}, {"success": True, "failure": False, "cancelled": False})
    assert e.render("${{ inputs.upload }}") is True
    assert e.render("n=${{ inputs.n }}, up=${{ inputs.upload }}") == "n=3, up=true"
