"""Transactions on an output directory: one writer (a lock), staging folders, atomic installs.

Each type is built into ``{output}/.staging-<pid>-<type>/``; its stamp is written last
inside it (`install`), then the old ``{output}/<type>/`` is renamed aside to
``.old-<pid>-<type>``, the staging folder renamed into place and the old one deleted. A
run killed at any point never leaves a type folder with a stamp that does not describe
its content; the next run (holding the lock) deletes the leftovers (`clean_stale`).

The names of these files and folders live here, below every other module of the run
that needs them (`reports.output_digests` skips the lock, `fingerprint` reads stamps).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Final

from tinymodels.errors import OutputDirError

STAGING_PREFIX: Final[str] = ".staging-"
OLD_PREFIX: Final[str] = ".old-"
LOCK_FILE: Final[str] = ".tinymodels.lock"
# A finished type folder's stamp: its fingerprint and result entry (`fingerprint.stamp_text`).
STAMP: Final[str] = ".tinymodels.json"


def check_output(output: Path) -> None:
    """Create `output` if needed and prove it writable, else raise `OutputDirError`."""
    try:
        output.mkdir(parents=True, exist_ok=True)
        probe = output / ".tinymodels-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise OutputDirError(f"cannot write to output directory {output}: {exc.strerror or exc}. "
                             "Choose another one with -o/--output.") from exc


@contextlib.contextmanager
def output_lock(output: Path) -> Iterator[None]:
    """One build per output directory at a time (the stale-folder cleanup relies on it)."""
    from filelock import FileLock, Timeout

    # timeout=0: a second build fails at once instead of waiting for the first to finish.
    lock = FileLock(output / LOCK_FILE, timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise OutputDirError(f"another tinymodels build is writing to {output}; wait for it to finish "
                             "or choose another directory with -o/--output") from exc
    try:
        yield
    finally:
        lock.release()


def clean_stale(output: Path) -> list[str]:
    """Delete staging/aside folders of interrupted runs; returns their names."""
    removed = []
    for path in sorted(output.iterdir()):
        if path.name.startswith((STAGING_PREFIX, OLD_PREFIX)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path.name)
    return removed


def staging_dir(output: Path, model_type: str) -> Path:
    """Where this process builds `model_type` before `install` moves it into place."""
    return output / f"{STAGING_PREFIX}{os.getpid()}-{model_type}"


def remove_type_dir(output: Path, model_type: str) -> None:
    """Take `{output}/{model_type}` away: rename aside first so it never looks half-deleted."""
    final = output / model_type
    if final.exists() or final.is_symlink():
        aside = output / f"{OLD_PREFIX}{os.getpid()}-{model_type}"
        shutil.rmtree(aside, ignore_errors=True)
        final.rename(aside)
        shutil.rmtree(aside, ignore_errors=True)


def install(output: Path, model_type: str, staging: Path, stamp_text: str) -> None:
    """Write `stamp_text` as the staging folder's stamp (last write inside it) and move the
    folder into place atomically."""
    staging.mkdir(parents=True, exist_ok=True)
    stamp = staging / STAMP
    tmp = staging / f".{STAMP}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(stamp_text)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(stamp)
    remove_type_dir(output, model_type)
    staging.rename(output / model_type)
