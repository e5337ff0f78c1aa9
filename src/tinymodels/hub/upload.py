"""Publish validated model folders to the Hub as `ORG/tiny-random-{folder}`.

What gets uploaded: only architectures the creation report marks OK
(`reports.arch_ok`) whose folder exists; nothing else under the output dir.

How a folder is published (`_publish`), designed so that re-runs and retries never
create duplicate commits or pull requests:

1. inspect the repo (`remote.inspect_repo`: existence, head sha, per-file git blob id /
   LFS sha256) and, in PR mode, the newest open-or-not PR refs;
2. if main (or, in PR mode, a PR) already holds exactly our files -> no commit, report
   that ref's sha;
3. otherwise commit only the changed files (`create_commit`, one commit, never retried
   by the client): new repo -> main; existing repo -> a PR unless `create_pr=False`;
4. on a transient failure (429/5xx/timeout/dropped connection) sleep (honouring
   `Retry-After`) and go back to 1 -- a commit whose response was lost is found there
   by its content, so it is never made twice.

The token, its redaction, request timeouts and retries are `tinymodels.hub.session`'s;
hashing and the diff against the remote are `tinymodels.hub.remote`'s.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

from tinymodels import __version__, environment, log
from tinymodels.errors import UploadError
from tinymodels.hub.remote import LocalFile, changed_files, content_digest, inspect_repo, local_files
from tinymodels.hub.session import (
    DEFAULT_MAX_ATTEMPTS,
    DEFAULT_TIMEOUT,
    Redactor,
    backoff_delay,
    check_namespace,
    check_token,
    configure_http,
    describe,
    hint,
    is_transient,
    resolve_token,
    status_code,
    with_retry,
)
from tinymodels.run.reports import (
    CREATION_REPORT,
    FAILED_UPLOADS,
    arch_ok,
    atomic_write_text,
    dump_json,
    load_report,
    write_reports,
)

if TYPE_CHECKING:
    from tinymodels.run.report_types import ArchEntry, Entry, Report

REPO_PREFIX: Final[str] = "tiny-random-"
DEFAULT_MAX_WORKERS: Final[int] = 4


@dataclass(frozen=True)
class UploadResult:
    """Outcome for one model folder."""

    model_dir: str  # relative to the output dir, as in the reports
    architecture: str
    repo_id: str
    status: str  # created | updated | pr | unchanged | failed
    sha: str | None = None
    pr_url: str | None = None
    error: str | None = None
    attempts: int = 0


@dataclass
class UploadSummary:
    """What `upload_output` did; `failed` lists the folders that could not be published."""

    results: list[UploadResult] = field(default_factory=list)

    @property
    def failed(self) -> list[UploadResult]:
        return [r for r in self.results if r.status == "failed"]

    @property
    def ok(self) -> list[UploadResult]:
        return [r for r in self.results if r.status != "failed"]

    @property
    def shas(self) -> dict[str, str]:
        return {r.architecture: r.sha for r in self.ok if r.sha}

    def as_dict(self) -> dict[str, Any]:
        return {"results": [asdict(r) for r in self.results]}


@dataclass(frozen=True)
class _Target:
    """One OK architecture from the creation report."""

    config_class: str
    architecture: str
    model_dir: str
    folder: Path
    info: ArchEntry
    entry: Entry


# --------------------------------------------------------------------------- what to publish


def repo_id_for(organization: str, folder_name: str) -> str:
    """`ORG/tiny-random-{folder}`; composites keep their `{Composite}-{enc}-{dec}` folder name."""
    return f"{organization}/{REPO_PREFIX}{folder_name}"


def find_targets(output: Path, report: Report) -> tuple[list[_Target], list[str]]:
    """OK architectures whose folder exists, and warnings for the ones skipped."""
    root = output.resolve()
    targets: list[_Target] = []
    warnings: list[str] = []
    seen: set[Path] = set()
    for config_class, entry in report.items():
        for arch, info in (entry.get("pytorch") or {}).items():
            if not isinstance(cast(object, info), Mapping) or not arch_ok(info):  # (JSON: may hold anything)
                continue
            checkpoint = info.get("checkpoint")
            if not checkpoint:
                warnings.append(f"{arch}: OK in the report but has no checkpoint path; skipped")
                continue
            path = Path(checkpoint)
            folder = (path if path.is_absolute() else output / path).resolve()
            if folder != root and root not in folder.parents:
                warnings.append(f"{arch}: checkpoint {checkpoint} is outside {output}; skipped")
                continue
            if not folder.is_dir() or not (folder / "config.json").is_file():
                warnings.append(f"{arch}: {checkpoint} is missing or has no config.json; skipped")
                continue
            if folder in seen:
                continue
            seen.add(folder)
            model_dir = folder.relative_to(root).as_posix()
            targets.append(_Target(config_class, arch, model_dir, folder, info, entry))
    return sorted(targets, key=lambda t: t.model_dir), warnings


# --------------------------------------------------------------------------- publishing


def _publish(api: Any, target: _Target, repo_id: str, files: list[LocalFile], create_pr: bool,
             redact: Callable[[object], str], max_attempts: int) -> UploadResult:
    """Bring `repo_id` to hold `files` with at most one commit (see module docstring)."""
    from huggingface_hub import CommitOperationAdd
    from huggingface_hub.errors import HfHubHTTPError

    new_repo: bool | None = None  # decided on the first inspection, kept across retries
    committed = False  # a commit attempt was sent (its outcome may be unknown)
    digest = content_digest(files)
    attempt = 0
    while True:
        attempt += 1
        # Re-read the repo before every attempt: an earlier commit whose response was lost
        # shows up here by its content, so it is never made twice.
        state = with_retry(lambda: inspect_repo(api, repo_id, files, look_in_prs=create_pr),
                           f"{repo_id}: inspect", redact, max_attempts)
        if new_repo is None:
            new_repo = not state.exists
        pr_mode = create_pr and not new_repo
        if state.match_sha is not None:
            pr_url = f"{api.endpoint}/{repo_id}/discussions/{state.match_pr}" if state.match_pr else None
            if committed:
                status = "created" if new_repo else ("pr" if state.match_pr else "updated")
                log.info(f"{repo_id}: the previous commit attempt had landed; not committing again")
            else:
                status = "unchanged"
            return UploadResult(target.model_dir, target.architecture, repo_id, status, state.match_sha,
                                pr_url, attempts=attempt)
        if not state.exists:
            # Idempotent (exist_ok), so retrying a lost response is safe.
            with_retry(lambda: api.create_repo(repo_id, repo_type="model", exist_ok=True),
                       f"{repo_id}: create repo", redact, max_attempts)
            # Read back main (the Hub makes an initial commit) to diff against it.
            state = with_retry(lambda: inspect_repo(api, repo_id, files, look_in_prs=False),
                               f"{repo_id}: inspect", redact, max_attempts)
        todo = changed_files(files, state.main)
        ops = [CommitOperationAdd(path_in_repo=f.path,
                                  path_or_fileobj=f.source if isinstance(f.source, bytes) else str(f.source))
               for f in todo]
        committed = True
        try:
            info = api.create_commit(
                repo_id,
                ops,
                commit_message=f"Update tiny models for {target.architecture}",
                commit_description=(f"Upload tiny models for {target.architecture} "
                                    f"(tinymodels {__version__}, content {digest})"),
                repo_type="model",
                revision="main",
                create_pr=pr_mode,
                # Optimistic concurrency: fail (412) rather than overwrite a concurrent change;
                # for a PR it fixes the PR's base.
                parent_commit=state.main.sha if state.main and state.main.sha else None,
            )
        except Exception as exc:  # transient errors and a moved main are retried, the rest re-raised
            conflict = isinstance(exc, HfHubHTTPError) and status_code(exc) == 412  # main moved meanwhile
            if not (is_transient(exc) or conflict) or attempt >= max_attempts:
                raise
            delay = 0.0 if conflict else backoff_delay(attempt, exc)
            log.warning(redact(f"{repo_id}: commit failed ({describe(exc)}); re-checking the repo "
                               f"in {delay:.1f}s before retrying (attempt {attempt + 1}/{max_attempts})"))
            time.sleep(delay)
            continue
        status = "pr" if pr_mode else ("created" if new_repo else "updated")
        return UploadResult(target.model_dir, target.architecture, repo_id, status, info.oid,
                            info.pr_url if pr_mode else None, attempts=attempt)


def _upload_one(api: Any, target: _Target, organization: str, create_pr: bool,
                redact: Callable[[object], str], max_attempts: int) -> UploadResult:
    from huggingface_hub.utils import validate_repo_id

    from tinymodels.hub.modelcard import model_card

    repo_id = repo_id_for(organization, target.folder.name)
    try:
        validate_repo_id(repo_id)  # the Hub's own rules (no `--`/`..`, no trailing `.`/`-`, ≤ 96 chars)
        card = model_card(target.folder, repo_id, target.architecture, target.info, target.entry,
                          target.config_class)
        files = local_files(target.folder, card)
        result = _publish(api, target, repo_id, files, create_pr, redact, max_attempts)
    except Exception as exc:  # noqa: BLE001 - one repo's failure is reported (token redacted); the others still upload
        reason = redact(f"Failed to upload {target.model_dir}. {describe(exc)}{hint(exc)}")
        log.error(reason)
        return UploadResult(target.model_dir, target.architecture, repo_id, "failed", error=reason)
    where = f" ({result.pr_url})" if result.pr_url else ""
    log.info(f"{target.model_dir} -> {repo_id}: {result.status}, sha {result.sha}{where}")
    return result


# --------------------------------------------------------------------------- entry point


def _update_reports(output: Path, summary: UploadSummary) -> None:
    """Record sha / repo_id / pr_url in the creation report, regenerate all reports, and
    write failed_uploads.json (relative model dir -> reason, upstream's shape)."""
    report_dir = output / "reports"
    report = load_report(report_dir / CREATION_REPORT)
    by_dir = {r.model_dir: r for r in summary.results}
    root = output.resolve()
    for entry in report.values():
        for info in (entry.get("pytorch") or {}).values():
            # (`object`: a report read back from JSON may hold anything here, so the check stays.)
            checkpoint = info.get("checkpoint") if isinstance(cast(object, info), dict) else None
            if not checkpoint:
                continue
            path = Path(checkpoint)
            folder = (path if path.is_absolute() else output / path).resolve()
            try:
                model_dir = folder.relative_to(root).as_posix()
            except ValueError:
                continue
            result = by_dir.get(model_dir)
            if result is None:
                continue
            if result.status == "failed":
                # Whatever an earlier run recorded no longer describes this content.
                info.pop("sha", None)
                info.pop("pr_url", None)
                continue
            info["sha"] = result.sha
            info["repo_id"] = result.repo_id
            if result.pr_url:
                info["pr_url"] = result.pr_url
            else:
                info.pop("pr_url", None)
    write_reports(report_dir, report, shas=summary.shas)
    failed = {r.model_dir: r.error for r in summary.failed}
    atomic_write_text(report_dir / FAILED_UPLOADS, dump_json(dict(sorted(failed.items()))))


def upload_output(
    output: Path | str,
    *,
    organization: str,
    token: str | None = None,
    create_pr: bool = True,
    max_workers: int = DEFAULT_MAX_WORKERS,
    timeout: float | None = None,
    endpoint: str | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    check_organization: bool = False,
) -> UploadSummary:
    """Publish every validated folder of `output` to `ORG/tiny-random-*` and update the reports.

    With `check_organization`, the token's owner must be `organization` or one of its
    organizations (the Hub's whoami), else nothing is uploaded: a typo in free-text CI input
    then fails before any repo is created under an unintended namespace.

    Token: `token`, else `$HF_TOKEN`, else the stored login. Endpoint: `endpoint`, else
    `$HF_ENDPOINT`. Raises `UploadError` when nothing can be attempted (no report, bad token,
    unreachable Hub) or when any folder failed (details in `reports/failed_uploads.json`).
    """
    from huggingface_hub import HfApi

    output = Path(output)
    organization = (organization or "").strip()
    if not organization or not _valid_name(organization):
        raise UploadError(f"--organization must be a Hub user or organization name (got {organization!r})")
    if max_workers < 1 or max_attempts < 1:
        raise UploadError("--max-workers and the attempt count must be at least 1")
    report_path = output / "reports" / CREATION_REPORT
    if not report_path.is_file():
        raise UploadError(f"no creation report at {report_path}: run 'tinymodels build ... -o {output}' first")
    try:
        report = load_report(report_path)
    except ValueError as exc:
        raise UploadError(f"cannot read {report_path}: {exc}") from None

    targets, warnings = find_targets(output, report)
    for w in warnings:
        log.warning(w)
    summary = UploadSummary()
    if not targets:
        log.warning(f"nothing to upload: no validated model folder in {output}")
        return summary

    token = resolve_token(token)
    redact = Redactor(token)
    if timeout is None:
        timeout = environment.hub_timeout(DEFAULT_TIMEOUT)
    configure_http(timeout)
    endpoint = (endpoint or environment.hf_endpoint() or "").rstrip("/") or None
    api = HfApi(endpoint=endpoint, token=token)
    user = check_token(api, token, redact, max_attempts)
    if check_organization:
        check_namespace(user, organization, api.endpoint)
    log.info(f"uploading {len(targets)} model folder(s) to {api.endpoint}/{organization} as {user} "
             f"({'pull requests for existing repos' if create_pr else 'commits to main'})")

    # Two folders with the same name would race for one repo: publish the first, fail the others.
    owners: dict[str, _Target] = {}
    clashes: list[UploadResult] = []
    for t in targets:
        repo_id = repo_id_for(organization, t.folder.name)
        if repo_id in owners:
            reason = (f"Failed to upload {t.model_dir}. UploadError: {repo_id} is already the repo of "
                      f"{owners[repo_id].model_dir}")
            log.error(reason)
            clashes.append(UploadResult(t.model_dir, t.architecture, repo_id, "failed", error=reason))
        else:
            owners[repo_id] = t
    unique = list(owners.values())
    with ThreadPoolExecutor(max_workers=min(max_workers, len(unique)), thread_name_prefix="upload") as pool:
        results = list(pool.map(lambda t: _upload_one(api, t, organization, create_pr, redact, max_attempts),
                                unique))
    results.extend(clashes)
    summary.results.extend(results)
    _update_reports(output, summary)

    counts: dict[str, int] = {}
    for r in results:
        counts[r.status] = counts.get(r.status, 0) + 1
    log.info("upload: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    if summary.failed:
        err = UploadError(f"{len(summary.failed)} of {len(results)} upload(s) failed; see "
                          f"{output / 'reports' / FAILED_UPLOADS}")
        err.summary = summary  # type: ignore[attr-defined]
        raise err
    return summary


def _valid_name(name: str) -> bool:
    """Whether `name` is a valid Hub namespace (the Hub's own rules, as for repo names)."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(name)
    except HFValidationError:
        return False
    return "/" not in name
