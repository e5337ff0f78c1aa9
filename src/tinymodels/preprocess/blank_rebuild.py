"""The blank rebuild of a type whose build from its original checkpoint failed.

With `--tokenizer-source original`, an original tokenizer or processor may be what makes a
model fail to build or validate; the original must never cost a type its build. The type is
then rebuilt from blank, and the blank entry, with the reason (category `source-fallback`),
replaces the original's when it fails less.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, Final

from tinymodels.config.discover import is_tokenizer_class
from tinymodels.preprocess.originals import BLANK, FALLBACK_CATEGORY, ORIGINAL

log = logging.getLogger(__name__)

# Architecture failure categories that no tokenizer or processor causes.
_NOT_SOURCE_FAILURES: Final[frozenset[str]] = frozenset({"skipped", "missing-dependency"})


def _failures(entry: dict[str, Any]) -> list[str]:
    """First lines of the entry's errors that a tokenizer or processor could have caused."""
    errors = [entry["error"][0]] if entry.get("error") else []
    errors += [f"{arch}: {info['error'][0]}" for arch, info in entry.get("pytorch", {}).items()
               if info.get("error") and info.get("category") not in _NOT_SOURCE_FAILURES]
    return errors


def fall_back_to_blank(entry: dict[str, Any], options: Any, out_dir: Path,
                       rebuild: Callable[[Any, Path], dict[str, Any]]) -> dict[str, Any]:
    """The entry of a type built from its original, or, when that build failed somewhere, of the
    blank rebuild if it fails less (with the reason, category `source-fallback`): the original
    must never cost a type its build. `rebuild(options, folder)` builds the type into `folder`."""
    used = [entry.get(k, "") for k in ("tokenizer_source", "processor_source")]
    failures = _failures(entry)
    if options.tokenizer_source == BLANK or not failures or (entry.get("tokenizer_source")
                                                             and not any(u.startswith(ORIGINAL) for u in used)):
        return entry
    log.warning("%s: the build from the original failed (%s); rebuilding from blank", entry.get("model_type"),
                failures[0])
    # Beside the type's own folder, named after it: a runner's stale `.staging-*` cleanup removes
    # it after a crash, and messages naming it stay the same between runs.
    staging = out_dir.parent / f"{out_dir.name}-blank"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        blank = rebuild(replace(options, tokenizer_source=BLANK), staging)
        if len(_failures(blank)) >= len(failures):
            return entry  # the original is not what fails: keep what the user asked for
        shutil.rmtree(out_dir, ignore_errors=True)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    classes = list(blank.get("processor", {}))
    reasons = [*entry.get("source_fallback", {}).get("reasons", []),
               f"the build from the original failed ({failures[0][:300]}); built from blank instead"]
    blank["tokenizer_source"] = BLANK if any(is_tokenizer_class(c) for c in classes) else "none"
    blank["processor_source"] = BLANK if any(not is_tokenizer_class(c) for c in classes) else "none"
    blank["source_fallback"] = {"category": FALLBACK_CATEGORY, "reasons": reasons}
    blank.setdefault("warnings", []).append(f"[{FALLBACK_CATEGORY}] {reasons[-1]}")
    return blank
