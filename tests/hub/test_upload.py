"""`tinymodels upload` / `upload_output` against the local Hub server, real client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinymodels.errors import UploadError
from tinymodels.hub.upload import upload_output
from tinymodels.run.reports import CREATION_REPORT, FAILED_UPLOADS, SUMMARY

from .conftest import OK_ARCHS, ORG, SECRET_TOKEN, _save_model

REPOS = {arch: f"{ORG}/tiny-random-{arch}" for arch in OK_ARCHS}


def _reports(output: Path) -> tuple[dict, dict, dict]:
    rd = output / "reports"
    return tuple(json.loads((rd / name).read_text()) for name in (CREATION_REPORT, SUMMARY, FAILED_UPLOADS))


def _assert_holds(hub, repo_id: str, sha: str, folder: Path) -> None:
    """The commit `sha` holds exactly our local files (and our model card)."""
    tree = hub.state.repo(repo_id).commits[sha].tree
    for path in folder.iterdir():
        assert tree[path.name].data == path.read_bytes(), path.name
    assert tree["README.md"].data.startswith(b"---\n")


def _no_token_anywhere(output: Path, hub, *texts: str) -> None:
    for text in texts:
        assert SECRET_TOKEN not in text
    for path in output.rglob("*"):
        if path.is_file():
            assert SECRET_TOKEN.encode() not in path.read_bytes(), path
    for repo in hub.state.repos.values():
        for commit in repo.commits.values():
            assert SECRET_TOKEN not in commit.title + commit.description
            for blob in commit.tree.values():
                assert SECRET_TOKEN.encode() not in blob.data


def test_create_new_repos(hub, output, capfd):
    summary = upload_output(output, organization=ORG, max_workers=2)
    assert sorted((r.repo_id, r.status) for r in summary.results) == sorted((r, "created") for r in REPOS.values())
    # Only OK archs whose folder exists: not the half-built failed one, not the stray folder.
    assert sorted(hub.state.repos) == sorted(REPOS.values())
    creation, summ, failed = _reports(output)
    assert failed == {}
    for arch, repo_id in REPOS.items():
        repo = hub.state.repo(repo_id)
        head = repo.refs["main"]
        assert summ[arch]["sha"] == head  # the summary pins the commit that holds our files
        info = creation["BertConfig"]["pytorch"][arch]
        assert (info["sha"], info["repo_id"]) == (head, repo_id) and "pr_url" not in info
        _assert_holds(hub, repo_id, head, output / "bert" / arch)
        assert len(repo.commits) == 2  # initial commit + ours
    assert "sha" not in summ.get("BertForSequenceClassification", {})
    card = hub.state.file(REPOS["BertForMaskedLM"], "README.md").decode()
    assert "pipeline_tag: fill-mask" in card and "library_name: transformers" in card
    assert "tiny-random" in card and "| Seed | 0 |" in card and "| Vocabulary size | 99 |" in card
    out, err = capfd.readouterr()
    _no_token_anywhere(output, hub, out, err)


def test_rerun_unchanged_makes_no_commit(hub, output):
    first = upload_output(output, organization=ORG)
    commits_before = {r: len(hub.state.repo(r).commits) for r in REPOS.values()}
    second = upload_output(output, organization=ORG)
    assert {r.status for r in second.results} == {"unchanged"}
    assert {r.repo_id: r.sha for r in second.results} == {r.repo_id: r.sha for r in first.results}
    assert {r: len(hub.state.repo(r).commits) for r in REPOS.values()} == commits_before
    assert len(hub.state.calls("POST", r"/commit/")) == len(REPOS)  # only the first run's
    assert _reports(output)[1]["BertModel"]["sha"] == first.shas["BertModel"]


def test_update_opens_pr_then_rerun_is_quiet_then_no_pr_commits_main(hub, output, capfd):
    first = upload_output(output, organization=ORG)
    repo_id = REPOS["BertModel"]
    main_before = hub.state.repo(repo_id).refs["main"]
    _save_model(output / "bert" / "BertModel", "BertModel", seed=1)  # new weights

    pr = upload_output(output, organization=ORG)
    result = {r.architecture: r for r in pr.results}
    assert result["BertForMaskedLM"].status == "unchanged"
    assert result["BertModel"].status == "pr"
    repo = hub.state.repo(repo_id)
    assert repo.refs["main"] == main_before  # main untouched
    assert result["BertModel"].sha == repo.refs["refs/pr/1"] != main_before  # sha = the PR's head
    assert result["BertModel"].pr_url == f"{hub.url}/{repo_id}/discussions/1"
    _assert_holds(hub, repo_id, result["BertModel"].sha, output / "bert" / "BertModel")
    creation, summ, _ = _reports(output)
    assert creation["BertConfig"]["pytorch"]["BertModel"]["pr_url"] == result["BertModel"].pr_url
    assert summ["BertModel"]["sha"] == result["BertModel"].sha

    again = upload_output(output, organization=ORG)  # content already in PR 1: no new PR
    again_r = {r.architecture: r for r in again.results}["BertModel"]
    assert (again_r.status, again_r.sha, again_r.pr_url) == ("unchanged", result["BertModel"].sha,
                                                             result["BertModel"].pr_url)
    assert list(repo.prs) == [1]

    direct = upload_output(output, organization=ORG, create_pr=False)
    direct_r = {r.architecture: r for r in direct.results}["BertModel"]
    assert direct_r.status == "updated" and direct_r.pr_url is None
    assert repo.refs["main"] == direct_r.sha and repo.commits[direct_r.sha].parent == main_before
    assert "pr_url" not in _reports(output)[0]["BertConfig"]["pytorch"]["BertModel"]
    assert first.shas["BertForMaskedLM"] == _reports(output)[1]["BertForMaskedLM"]["sha"]


def test_commit_503_twice_then_success(hub, output):
    hub.fault("POST", r"/commit/", status=503, times=2)
    summary = upload_output(output, organization=ORG, max_workers=1)
    assert {r.status for r in summary.results} == {"created"}
    assert len(hub.state.calls("POST", r"/commit/")) == len(REPOS) + 2
    for r in summary.results:  # no duplicates: initial + exactly one commit each
        assert len(hub.state.repo(r.repo_id).commits) == 2
        assert r.sha == hub.state.repo(r.repo_id).refs["main"]
    assert max(r.attempts for r in summary.results) == 3


def test_429_honours_retry_after(hub, output, capfd):
    hub.fault("POST", r"/commit/", status=429, times=1, headers={"Retry-After": "1"})
    summary = upload_output(output, organization=ORG, max_workers=1)
    assert {r.status for r in summary.results} == {"created"}
    posts = hub.state.calls("POST", r"/commit/")
    assert [p["status"] for p in posts][:2] == [429, 200]
    assert posts[1]["t"] - posts[0]["t"] >= 1.0  # waited as told, not the 0.05 s test backoff
    _, err = capfd.readouterr()
    assert "429" in err and "in 1.0s before retrying" in err


def test_dropped_connection_after_commit_landed_no_duplicate(hub, output, capfd):
    hub.fault("POST", r"/commit/", drop=True, after=True, times=1)
    summary = upload_output(output, organization=ORG, max_workers=1)
    assert {r.status for r in summary.results} == {"created"}
    assert len(hub.state.calls("POST", r"/commit/")) == len(REPOS)  # the lost one was not re-sent
    for r in summary.results:
        repo = hub.state.repo(r.repo_id)
        assert len(repo.commits) == 2 and r.sha == repo.refs["main"]
    _, err = capfd.readouterr()
    assert "had landed" in err and SECRET_TOKEN not in err


def test_dropped_pr_commit_opens_one_pr(hub, output):
    upload_output(output, organization=ORG)
    _save_model(output / "bert" / "BertModel", "BertModel", seed=2)
    hub.fault("POST", r"/commit/", drop=True, after=True, times=1)
    summary = upload_output(output, organization=ORG)
    r = {x.architecture: x for x in summary.results}["BertModel"]
    repo = hub.state.repo(r.repo_id)
    assert r.status == "pr" and list(repo.prs) == [1]
    assert r.sha == repo.refs["refs/pr/1"] and r.pr_url.endswith("/discussions/1")


def test_stalled_commit_times_out_and_is_not_duplicated(hub, output):
    hub.fault("POST", r"/commit/", delay=10.0, after=True, times=1)  # lands, then stalls
    hub.fault("GET", r"/api/models/", delay=10.0, times=1)  # a stalled read, retried
    summary = upload_output(output, organization=ORG, max_workers=1, timeout=1.0)
    assert {r.status for r in summary.results} == {"created"}
    # Both stalls were cut short by the client timeout (the retry came before the stall ended).
    for method, pattern in (("GET", r"/api/models/org/[^/]+$"), ("POST", r"/commit/")):
        calls = hub.state.calls(method, pattern)
        assert calls[0]["fault"] and calls[1]["t"] - calls[0]["t"] < 10.0
    for r in summary.results:
        repo = hub.state.repo(r.repo_id)
        assert len(repo.commits) == 2 and r.sha == repo.refs["main"]
    assert len(hub.state.calls("POST", r"/commit/")) == len(REPOS)


def test_persistent_failure_is_reported_and_others_still_upload(hub, output):
    creation_path = output / "reports" / CREATION_REPORT
    creation = json.loads(creation_path.read_text())
    creation["BertConfig"]["pytorch"]["BertModel"]["sha"] = "0" * 40  # from an older run: now stale
    creation_path.write_text(json.dumps(creation))
    hub.fault("POST", r"/tiny-random-BertModel/commit/", status=500, times=100, error="disk on fire")
    with pytest.raises(UploadError, match="1 of 2 upload"):
        upload_output(output, organization=ORG, max_attempts=2)
    _, summ, failed = _reports(output)
    assert list(failed) == ["bert/BertModel"]
    reason = failed["bert/BertModel"]
    assert reason.startswith("Failed to upload bert/BertModel. HfHubHTTPError: ")
    assert "500" in reason and "disk on fire" in reason and "re-run later" in reason
    assert "sha" in summ["BertForMaskedLM"] and "sha" not in summ["BertModel"]
    assert "sha" not in _reports(output)[0]["BertConfig"]["pytorch"]["BertModel"]
    assert len(hub.state.calls("POST", r"/tiny-random-BertModel/commit/")) == 2  # bounded


# The client's LFS PUT passes a file object as `data=` (its own deprecation, not ours).
@pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")
def test_lfs_path_and_unchanged_detection_by_sha256(hub, output):
    hub.state.mode = "auto"  # safetensors -> LFS batch + PUT + verify (Xet disabled)
    first = upload_output(output, organization=ORG)
    assert hub.state.calls("PUT", r"/_lfs/")
    tree = hub.state.repo(REPOS["BertModel"]).commits[first.shas["BertModel"]].tree
    assert tree["model.safetensors"].lfs and not tree["config.json"].lfs
    second = upload_output(output, organization=ORG)
    assert {r.status for r in second.results} == {"unchanged"}


def test_missing_token_and_missing_report(hub, output, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(UploadError, match="HF_TOKEN"):
        upload_output(output, organization=ORG)
    with pytest.raises(UploadError, match="no creation report"):
        upload_output(output / "bert", organization=ORG, token=SECRET_TOKEN)
    assert not hub.state.repos


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tinymodels", "upload", *args], capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_upload_subprocess_and_no_token_leak(hub, output):
    env = dict(os.environ)  # the hub fixture set HF_ENDPOINT, HF_TOKEN, HF_HOME, ...
    proc = _cli(str(output), "--organization", ORG, "--max-workers", "2", env=env)
    assert proc.returncode == 0, proc.stderr
    lines = sorted(proc.stdout.splitlines())
    assert [line.split("\t")[:2] for line in lines] == [[r, "created"] for r in sorted(REPOS.values())]
    assert _reports(output)[1]["BertModel"]["sha"] == hub.state.repo(REPOS["BertModel"]).refs["main"]
    # the token was really sent (writes need it) but is printed, stored and published nowhere
    assert any(r["authenticated"] for r in hub.state.calls("POST", r"/commit/"))
    _no_token_anywhere(output, hub, proc.stdout, proc.stderr)


def test_cli_invalid_token_fails_clearly(hub, output):
    env = dict(os.environ)
    wrong = "hf_WRONGtoken9876543210zyxwvu"
    proc = _cli(str(output), "--organization", ORG, "--token", wrong, env=env)
    assert proc.returncode == 6
    assert "rejected the token" in proc.stderr and "check HF_TOKEN / --token" in proc.stderr
    assert wrong not in proc.stderr + proc.stdout and SECRET_TOKEN not in proc.stderr + proc.stdout
    assert not hub.state.repos and not hub.state.calls("POST", r"/commit/")


@pytest.mark.slow  # builds real models (~20-40 s): left out of the fast loop, run by CI
def test_build_with_upload_flag_subprocess(hub, tmp_path):
    """`tinymodels build bert --upload`: the real builder's output goes straight to the Hub."""
    out = tmp_path / "built"
    proc = subprocess.run([sys.executable, "-m", "tinymodels", "build", "bert", "-o", str(out), "--upload",
                           "--organization", ORG], capture_output=True, text=True, env=dict(os.environ),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    creation, summ, failed = _reports(out)
    assert failed == {}
    ok = {a: i for e in creation.values() for a, i in e["pytorch"].items() if i.get("model") and "error" not in i}
    assert ok and set(ok) <= set(summ)
    for arch, info in ok.items():
        repo = hub.state.repo(f"{ORG}/tiny-random-{Path(info['checkpoint']).name}")
        assert summ[arch]["sha"] == info["sha"] == repo.refs["main"]
    _no_token_anywhere(out, hub, proc.stdout, proc.stderr)


def test_check_organization_refuses_a_namespace_the_token_cannot_publish_to(hub, output):
    env = dict(os.environ)
    proc = _cli(str(output), "--organization", "orgg", "--check-organization", env=env)
    assert proc.returncode == 6
    assert "'orgg' is neither the token's user ('local-user') nor one of its organizations (org)" in proc.stderr
    assert not hub.state.repos and not hub.state.calls("POST", r"/commit/")
    _no_token_anywhere(output, hub, proc.stdout, proc.stderr)
    # Malformed names never reach the Hub.
    proc = _cli(str(output), "--organization", "my org", "--check-organization", env=env)
    assert proc.returncode == 6 and "must be a Hub user or organization name" in proc.stderr


@pytest.mark.parametrize("namespace", [ORG, "local-user"])
def test_check_organization_accepts_the_tokens_org_and_user(hub, output, namespace):
    proc = _cli(str(output), "--organization", namespace, "--check-organization", env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert f"organization {namespace!r} checked" in proc.stderr
    assert {r.split("/")[0] for r in hub.state.repos} == {namespace}


def test_a_repo_name_the_hub_refuses_fails_before_any_request(hub, output):
    # `..` passed the old hand-written pattern (^[A-Za-z0-9][A-Za-z0-9._-]*$) but the Hub refuses
    # it: huggingface_hub's own validate_repo_id stops it locally, and the other repo still uploads.
    (output / "bert" / "BertModel").rename(output / "bert" / "BertModel..v2")
    creation_path = output / "reports" / CREATION_REPORT
    creation = json.loads(creation_path.read_text())
    creation["BertConfig"]["pytorch"]["BertModel"]["checkpoint"] = "bert/BertModel..v2"
    creation_path.write_text(json.dumps(creation))
    with pytest.raises(UploadError, match="1 of 2 upload"):
        upload_output(output, organization=ORG, max_attempts=1)
    _, _, failed = _reports(output)
    assert list(failed) == ["bert/BertModel..v2"]
    assert "HFValidationError" in failed["bert/BertModel..v2"] and "Cannot have -- or .." in failed["bert/BertModel..v2"]
    assert sorted(hub.state.repos) == [REPOS["BertForMaskedLM"]]
    assert not hub.state.calls("POST", r"BertModel\.\.v2") and not hub.state.calls("GET", r"BertModel\.\.v2")
