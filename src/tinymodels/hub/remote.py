"""What a folder holds and what a Hub repo already has: content hashes and their diff.

Local files are hashed the way the Hub identifies them (git blob sha1 for regular files,
sha256 for LFS files), so comparing a folder with a ref needs only the repo's file
metadata (`model_info(files_metadata=True)`), never a download. `inspect_repo` tells
whether the repo exists, what main holds and whether main or one of its newest pull
requests already carries exactly our files.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, cast

from tinymodels.hub.session import http_timeout

# PR refs inspected for an existing PR that already carries our content (newest first).
MAX_PRS_INSPECTED: Final[int] = 20


@dataclass(frozen=True)
class LocalFile:
    """One file to publish, with the hashes the Hub compares."""

    path: str
    size: int
    sha256: str
    git_sha1: str
    source: Path | bytes


@dataclass(frozen=True)
class RemoteRef:
    """A ref's head sha and files: path -> (blob id, lfs sha256 or None, size)."""

    sha: str | None
    files: dict[str, tuple[str | None, str | None, int | None]]


@dataclass(frozen=True)
class RemoteState:
    """What `inspect_repo` found."""

    exists: bool
    main: RemoteRef | None
    match_sha: str | None = None  # a ref holding exactly our files
    match_pr: int | None = None


# --------------------------------------------------------------------------- local side


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


def local_files(folder: Path, card: str | None) -> list[LocalFile]:
    """The files to publish: the folder's files (hidden ones excluded) plus the model card."""
    files: list[LocalFile] = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in rel.parts):
            continue
        if rel.as_posix() == "README.md" and card is not None:
            continue  # ours replaces it
        size, sha256, sha1 = _hash_file(path)
        files.append(LocalFile(rel.as_posix(), size, sha256, sha1, path))
    if card is not None:
        data = card.encode("utf-8")
        files.append(LocalFile("README.md", len(data), hashlib.sha256(data).hexdigest(), _git_sha1(data), data))
    return sorted(files, key=lambda f: f.path)


def content_digest(files: Iterable[LocalFile]) -> str:
    """Short digest of the whole content set (names the content in commit descriptions)."""
    h = hashlib.sha256()
    for f in sorted(files, key=lambda f: f.path):
        h.update(f"{f.path}\0{f.sha256}\n".encode())
    return h.hexdigest()[:12]


# --------------------------------------------------------------------------- the diff


def _same(local: LocalFile, remote: tuple[str | None, str | None, int | None] | None) -> bool:
    if remote is None:
        return False
    blob_id, lfs_sha256, size = remote
    if lfs_sha256:
        return lfs_sha256 == local.sha256 and (size is None or size == local.size)
    return blob_id == local.git_sha1


def changed_files(files: Iterable[LocalFile], remote: RemoteRef | None) -> list[LocalFile]:
    """Local files whose content differs from (or is missing in) `remote`. Extra remote files
    (`.gitattributes`, files a human added) are left alone."""
    remote_files = remote.files if remote else {}
    return [f for f in files if not _same(f, remote_files.get(f.path))]


# --------------------------------------------------------------------------- remote side


def _remote_ref(api: Any, repo_id: str, revision: str | None = None) -> RemoteRef:
    # model_info passes its own `timeout` (None = no timeout at all) over the client default.
    info = api.model_info(repo_id, revision=revision, files_metadata=True, timeout=http_timeout())
    files: dict[str, tuple[str | None, str | None, int | None]] = {}
    for s in info.siblings or []:
        lfs = getattr(s, "lfs", None)
        files[s.rfilename] = (getattr(s, "blob_id", None), getattr(lfs, "sha256", None) if lfs else None,
                              getattr(lfs, "size", None) if lfs else getattr(s, "size", None))
    return RemoteRef(sha=info.sha, files=files)


def _pr_number(ref: str) -> int | None:
    m = re.fullmatch(r"refs/pr/(\d+)", ref)
    return int(m.group(1)) if m else None


def inspect_repo(api: Any, repo_id: str, files: list[LocalFile], look_in_prs: bool) -> RemoteState:
    """Does the repo exist, what is on main, and does some ref already hold our content?"""
    from huggingface_hub.errors import RepositoryNotFoundError

    try:
        main = _remote_ref(api, repo_id)
    except RepositoryNotFoundError:
        return RemoteState(exists=False, main=None)
    if not changed_files(files, main):
        return RemoteState(exists=True, main=main, match_sha=main.sha)
    if look_in_prs:
        refs = api.list_repo_refs(repo_id, include_pull_requests=True)
        prs = sorted(((_pr_number(r.ref), r) for r in refs.pull_requests or [] if _pr_number(r.ref) is not None),
                     key=lambda p: cast(int, p[0]), reverse=True)  # (None filtered out above)
        for number, ref in prs[:MAX_PRS_INSPECTED]:
            pr = _remote_ref(api, repo_id, revision=ref.ref)
            if not changed_files(files, pr):
                return RemoteState(exists=True, main=main, match_sha=pr.sha or ref.target_commit, match_pr=number)
    return RemoteState(exists=True, main=main)
