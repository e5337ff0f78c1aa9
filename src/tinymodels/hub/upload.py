"""Publish validated model folders to the Hub as `ORG/tiny-random-{folder}`.

What gets uploaded: only architectures the creation report marks OK
(`reports.arch_ok`) whose folder exists; nothing else under the output dir.

How a folder is published (`_publish`), designed so that re-runs and retries never
create duplicate commits or pull requests:

1. inspect the repo (`model_info(files_metadata=True)`: existence, head sha, per-file
   git blob id / LFS sha256) and, in PR mode, the newest open-or-not PR refs;
2. if main (or, in PR mode, a PR) already holds exactly our files -> no commit, report
   that ref's sha;
3. otherwise commit only the changed files (`create_commit`, one commit, never retried
   by the client): new repo -> main; existing repo -> a PR unless `create_pr=False`;
4. on a transient failure (429/5xx/timeout/dropped connection) sleep (honouring
   `Retry-After`) and go back to 1 -- a commit whose response was lost is found there
   by its content, so it is never made twice.

Every request runs under a client-side timeout (`configure_http`). The token is only
handed to `HfApi`; every message we print or store goes through `_redact`.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

from tinymodels import __version__, environment, log
from tinymodels.errors import UploadError
from tinymodels.run.reports import (
    CREATION_REPORT,
    FAILED_UPLOADS,
    arch_ok,
    atomic_write_text,
    dump_json,
    load_report,
    write_reports,
)

REPO_PREFIX: Final[str] = "tiny-random-"
DEFAULT_TIMEOUT: Final[float] = 60.0
DEFAULT_MAX_WORKERS: Final[int] = 4
DEFAULT_MAX_ATTEMPTS: Final[int] = 5
# Backoff between attempts: base * 2**(n-1), capped; env override keeps tests fast.
DEFAULT_BACKOFF: Final[float] = 2.0
MAX_BACKOFF: Final[float] = 60.0
# PR refs inspected for an existing PR that already carries our content (newest first).
MAX_PRS_INSPECTED: Final[int] = 20
TRANSIENT_STATUS: Final[frozenset[int]] = frozenset({408, 429, 500, 502, 503, 504})

T = TypeVar("T")


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
    info: Mapping[str, Any]
    entry: Mapping[str, Any]


@dataclass(frozen=True)
class _LocalFile:
    path: str
    size: int
    sha256: str
    git_sha1: str
    source: Path | bytes


@dataclass(frozen=True)
class _RemoteRef:
    """A ref's head sha and files: path -> (blob id, lfs sha256 or None)."""

    sha: str | None
    files: dict[str, tuple[str | None, str | None, int | None]]


# --------------------------------------------------------------------------- secrets


class _Redactor:
    """Replaces the token in any text we print or store."""

    def __init__(self, token: str | None) -> None:
        self.token = token

    def __call__(self, text: object) -> str:
        s = str(text)
        if self.token and len(self.token) >= 4:
            s = s.replace(self.token, mask_token(self.token))
        return s


def mask_token(token: str | None) -> str:
    """A printable stand-in for a token (never more than its 3-char prefix)."""
    if not token:
        return "<none>"
    return f"{token[:3]}***" if token.startswith("hf_") else "***"


# --------------------------------------------------------------------------- HTTP


_HTTP_LOCK = threading.Lock()
_HTTP_TIMEOUT: float | None = None


def configure_http(timeout: float) -> None:
    """Give every huggingface_hub request a timeout (the client's default is none: a stalled
    server would hang us forever). Process-wide, since the client shares one session."""
    global _HTTP_TIMEOUT
    import httpx2
    from huggingface_hub import set_client_factory

    with _HTTP_LOCK:
        if _HTTP_TIMEOUT == timeout:
            return

        def factory() -> httpx2.Client:
            try:
                # Keep the client's own request hook (offline mode, request ids).
                from huggingface_hub.utils._http import default_client_factory

                client = default_client_factory()
            except ImportError:  # pragma: no cover - private helper moved
                client = httpx2.Client(follow_redirects=True)
            client.timeout = httpx2.Timeout(timeout, connect=min(timeout, 10.0))
            return client

        set_client_factory(factory)
        _HTTP_TIMEOUT = timeout


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _chain(exc: BaseException) -> Iterable[BaseException]:
    """`exc` and its causes (LFS threads wrap HTTP errors in RuntimeError)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        yield cur
        cur = cur.__cause__ or cur.__context__


def is_transient(exc: BaseException) -> bool:
    """429/5xx/408, timeouts, network and protocol errors: worth another attempt."""
    import httpx2

    for e in _chain(exc):
        status = _status(e)
        if status is not None:
            return status in TRANSIENT_STATUS
        if isinstance(e, httpx2.TimeoutException | httpx2.NetworkError | httpx2.RemoteProtocolError):
            return True
        if type(e) is ConnectionError:  # hf_xet transfer failures
            return True
    return False


def retry_after(exc: BaseException) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or HTTP date), if any."""
    for e in _chain(exc):
        response = getattr(e, "response", None)
        headers = getattr(response, "headers", None)
        if not headers:
            continue
        value = headers.get("Retry-After")
        if not value:
            continue
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return None


def _backoff_base() -> float:
    return environment.upload_backoff(DEFAULT_BACKOFF)


def _wait(attempt: int, exc: BaseException) -> float:
    """Delay before attempt `attempt + 1`: Retry-After when given, else exponential."""
    hinted = retry_after(exc)
    if hinted is not None:
        return min(hinted, MAX_BACKOFF)
    return min(_backoff_base() * 2 ** (attempt - 1), MAX_BACKOFF)


def _describe(exc: BaseException) -> str:
    """`ExcClass: message` on one line (upstream's failed_uploads shape)."""
    msg = " ".join(str(exc).split()) or repr(exc)
    return f"{type(exc).__name__}: {msg}"


def with_retry(fn: Callable[[], T], what: str, redact: Callable[[object], str],
               max_attempts: int = DEFAULT_MAX_ATTEMPTS) -> T:
    """Run an idempotent call, retrying transient failures with backoff (bounded)."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return fn()
        except Exception as exc:  # is_transient decides: the rest is re-raised
            if not is_transient(exc) or attempt >= max_attempts:
                raise
            delay = _wait(attempt, exc)
            log.warning(redact(f"{what}: {_describe(exc)}; retrying in {delay:.1f}s "
                               f"(attempt {attempt + 1}/{max_attempts})"))
            time.sleep(delay)


# --------------------------------------------------------------------------- local side


def repo_id_for(organization: str, folder_name: str) -> str:
    """`ORG/tiny-random-{folder}`; composites keep their `{Composite}-{enc}-{dec}` folder name."""
    return f"{organization}/{REPO_PREFIX}{folder_name}"


def _git_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _hash_file(path: Path) -> tuple[int, str, str]:
    """(size, sha256, git blob sha1) of a file, streamed."""
    size = path.stat().st_size
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(b"blob %d\0" % size)
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            sha256.update(chunk)
            sha1.update(chunk)
    return size, sha256.hexdigest(), sha1.hexdigest()


def local_files(folder: Path, card: str | None) -> list[_LocalFile]:
    """The files to publish: the folder's files (hidden ones excluded) plus the model card."""
    files: list[_LocalFile] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if rel.as_posix() == "README.md" and card is not None:
            continue  # ours replaces it
        size, sha256, sha1 = _hash_file(path)
        files.append(_LocalFile(rel.as_posix(), size, sha256, sha1, path))
    if card is not None:
        data = card.encode("utf-8")
        files.append(_LocalFile("README.md", len(data), hashlib.sha256(data).hexdigest(), _git_sha1(data), data))
    return sorted(files, key=lambda f: f.path)


def content_digest(files: Iterable[_LocalFile]) -> str:
    """Short digest of the whole content set (names the content in commit descriptions)."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"{f.path}\0{f.sha256}\n".encode())
    return h.hexdigest()[:12]


def _same(local: _LocalFile, remote: tuple[str | None, str | None, int | None] | None) -> bool:
    if remote is None:
        return False
    blob_id, lfs_sha256, size = remote
    if lfs_sha256:
        return lfs_sha256 == local.sha256 and (size is None or size == local.size)
    return blob_id == local.git_sha1


def changed_files(files: Iterable[_LocalFile], remote: _RemoteRef | None) -> list[_LocalFile]:
    """Local files whose content differs from (or is missing in) `remote`. Extra remote files
    (`.gitattributes`, files a human added) are left alone."""
    remote_files = remote.files if remote else {}
    return [f for f in files if not _same(f, remote_files.get(f.path))]


def find_targets(output: Path, report: Mapping[str, Mapping[str, Any]]) -> tuple[list[_Target], list[str]]:
    """OK architectures whose folder exists, and warnings for the ones skipped."""
    root = output.resolve()
    targets: list[_Target] = []
    warnings: list[str] = []
    seen: set[Path] = set()
    for config_class, entry in report.items():
        for arch, info in (entry.get("pytorch") or {}).items():
            if not isinstance(info, Mapping) or not arch_ok(info):
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


# --------------------------------------------------------------------------- remote side


def _remote_ref(api: Any, repo_id: str, revision: str | None = None) -> _RemoteRef:
    # model_info passes its own `timeout` (None = no timeout at all) over the client default.
    info = api.model_info(repo_id, revision=revision, files_metadata=True, timeout=_HTTP_TIMEOUT)
    files: dict[str, tuple[str | None, str | None, int | None]] = {}
    for s in info.siblings or []:
        lfs = getattr(s, "lfs", None)
        files[s.rfilename] = (getattr(s, "blob_id", None), getattr(lfs, "sha256", None) if lfs else None,
                              getattr(lfs, "size", None) if lfs else getattr(s, "size", None))
    return _RemoteRef(sha=info.sha, files=files)


def _pr_number(ref: str) -> int | None:
    m = re.fullmatch(r"refs/pr/(\d+)", ref)
    return int(m.group(1)) if m else None


@dataclass(frozen=True)
class _State:
    exists: bool
    main: _RemoteRef | None
    match_sha: str | None = None  # a ref holding exactly our files
    match_pr: int | None = None


def _inspect(api: Any, repo_id: str, files: list[_LocalFile], look_in_prs: bool) -> _State:
    """Does the repo exist, what is on main, and does some ref already hold our content?"""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        main = _remote_ref(api, repo_id)
    except RepositoryNotFoundError:
        return _State(exists=False, main=None)
    if not changed_files(files, main):
        return _State(exists=True, main=main, match_sha=main.sha)
    if look_in_prs:
        refs = api.list_repo_refs(repo_id, include_pull_requests=True)
        prs = sorted(((_pr_number(r.ref), r) for r in refs.pull_requests or [] if _pr_number(r.ref) is not None),
                     key=lambda p: p[0], reverse=True)
        for number, ref in prs[:MAX_PRS_INSPECTED]:
            pr = _remote_ref(api, repo_id, revision=ref.ref)
            if not changed_files(files, pr):
                return _State(exists=True, main=main, match_sha=pr.sha or ref.target_commit, match_pr=number)
    return _State(exists=True, main=main)


def _publish(api: Any, target: _Target, repo_id: str, files: list[_LocalFile], create_pr: bool,
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
        state = with_retry(lambda: _inspect(api, repo_id, files, look_in_prs=create_pr),
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
            state = with_retry(lambda: _inspect(api, repo_id, files, look_in_prs=False),
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
            conflict = isinstance(exc, HfHubHTTPError) and _status(exc) == 412  # main moved meanwhile
            if not (is_transient(exc) or conflict) or attempt >= max_attempts:
                raise
            delay = 0.0 if conflict else _wait(attempt, exc)
            log.warning(redact(f"{repo_id}: commit failed ({_describe(exc)}); re-checking the repo "
                               f"in {delay:.1f}s before retrying (attempt {attempt + 1}/{max_attempts})"))
            time.sleep(delay)
            continue
        status = "pr" if pr_mode else ("created" if new_repo else "updated")
        return UploadResult(target.model_dir, target.architecture, repo_id, status, info.oid,
                            info.pr_url if pr_mode else None, attempts=attempt)


def _hint(exc: BaseException) -> str:
    """What to do next, for errors whose fix is on the user's side."""
    status = None
    for e in _chain(exc):
        status = _status(e) or status
    if status == 401:
        return " Check HF_TOKEN / --token: the Hub rejected the token."
    if status == 403:
        return " Check that the token has write access to the organization."
    if is_transient(exc):
        return " The Hub kept failing or timing out; re-run later (re-runs skip what is already published)."
    return ""


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
        reason = redact(f"Failed to upload {target.model_dir}. {_describe(exc)}{_hint(exc)}")
        log.error(reason)
        return UploadResult(target.model_dir, target.architecture, repo_id, "failed", error=reason)
    where = f" ({result.pr_url})" if result.pr_url else ""
    log.info(f"{target.model_dir} -> {repo_id}: {result.status}, sha {result.sha}{where}")
    return result


# --------------------------------------------------------------------------- entry point


def _resolve_token(token: str | None) -> str:
    if token:
        return token
    from_env = environment.hf_token()
    if from_env:
        return from_env
    from huggingface_hub import get_token

    stored = get_token()
    if not stored:
        raise UploadError("no Hub token: set HF_TOKEN or pass --token (a token with write access)")
    return stored


def _check_token(api: Any, token: str, redact: Callable[[object], str], max_attempts: int) -> _Who:
    """Fail fast, before any upload, on a rejected token or an unreachable Hub."""
    try:
        who = with_retry(lambda: api.whoami(token=token), "check token", redact, max_attempts)
    except Exception as exc:  # noqa: BLE001 - re-raised as UploadError, with the token redacted from the message
        if _status(exc) == 401:
            raise UploadError(f"the Hub at {api.endpoint} rejected the token ({mask_token(token)}): "
                              "check HF_TOKEN / --token") from None
        raise UploadError(redact(f"cannot reach the Hub at {api.endpoint}: {_describe(exc)}. Check "
                                 "HF_ENDPOINT and your network, then re-run.")) from None
    return _Who(str(who.get("name") or "?"),
                tuple(str(o.get("name")) for o in who.get("orgs") or () if isinstance(o, dict) and o.get("name")))


@dataclass(frozen=True)
class _Who:
    """The token's owner and the organizations it belongs to."""

    name: str
    orgs: tuple[str, ...] = ()

    def __str__(self) -> str:
        return self.name


def _check_namespace(who: _Who, organization: str, endpoint: str) -> None:
    """The token must be able to publish under `organization` (its user or one of its orgs)."""
    allowed = {who.name, *who.orgs}
    if organization not in allowed:
        raise UploadError(f"--organization {organization!r} is neither the token's user ({who.name!r}) nor one "
                          f"of its organizations ({', '.join(sorted(who.orgs)) or 'none'}) on {endpoint}; "
                          "nothing was uploaded")
    log.info(f"organization {organization!r} checked: the token's {'user' if organization == who.name else 'org'}")


def _update_reports(output: Path, summary: UploadSummary) -> None:
    """Record sha / repo_id / pr_url in the creation report, regenerate all reports, and
    write failed_uploads.json (relative model dir -> reason, upstream's shape)."""
    report_dir = output / "reports"
    report = load_report(report_dir / CREATION_REPORT)
    by_dir = {r.model_dir: r for r in summary.results}
    root = output.resolve()
    for entry in report.values():
        for info in (entry.get("pytorch") or {}).values():
            checkpoint = info.get("checkpoint") if isinstance(info, dict) else None
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
                for key in ("sha", "pr_url"):
                    info.pop(key, None)
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

    token = _resolve_token(token)
    redact = _Redactor(token)
    if timeout is None:
        timeout = environment.hub_timeout(DEFAULT_TIMEOUT)
    configure_http(timeout)
    endpoint = (endpoint or environment.hf_endpoint() or "").rstrip("/") or None
    api = HfApi(endpoint=endpoint, token=token)
    user = _check_token(api, token, redact, max_attempts)
    if check_organization:
        _check_namespace(user, organization, api.endpoint)
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
