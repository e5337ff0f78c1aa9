"""Per-model-type fingerprints: everything that decides what a type's build produces.

A model type's output is up to date when the fingerprint stored beside it in
``{output}/{model_type}/.tinymodels.json`` equals the one computed now. The
fingerprint holds the tool version and a digest of its build code (so a code change in
a development checkout rebuilds), the library versions, a digest of the tiny config dict,
the type's overrides entry, the corpus identity, vocab size, seed, the skip list
restricted to the type's architectures and, with ``--transformers-repo``, a digest of the
type's modeling test file there (whose ModelTester gives the tiny config). It is computed in the runner's parent
process without building anything (config classes only; a few ms per type).

The stamp file is written last, inside the staging directory, just before the
staging directory is renamed into place: a folder without a stamp (or with a stamp
that does not match) is never taken as complete.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
from importlib import metadata
from pathlib import Path
from typing import Any, Final

from tinymodels import __version__
from tinymodels.options import BuildOptions

STAMP: Final[str] = ".tinymodels.json"
STAMP_FORMAT: Final[int] = 1
LIBRARIES: Final[tuple[str, ...]] = ("transformers", "tokenizers", "torch")
# Modules that do not shape what a build writes: editing them must not invalidate outputs.
NOT_BUILD_CODE: Final[frozenset[str]] = frozenset({
    "__main__.py", "cli.py", "log.py", "errors.py", "runner.py", "workers.py", "progress.py", "fingerprint.py",
    "plan.py", "aggregate.py", "summary.py", "stepsummary.py", "upload.py", "modelcard.py", "reports.py",
})


def canonical(obj: Any) -> Any:
    """A JSON-safe, order-independent form of `obj` (dict keys sorted as strings, tuples as lists)."""
    if isinstance(obj, dict):
        return {str(k): canonical(v) for k, v in sorted(obj.items(), key=lambda kv: str(kv[0]))}
    if isinstance(obj, list | tuple):
        return [canonical(v) for v in obj]
    if isinstance(obj, frozenset | set):
        return sorted(canonical(v) for v in obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return repr(obj)
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return repr(obj)


def digest(obj: Any) -> str:
    """sha256 of the canonical JSON of `obj`."""
    text = json.dumps(canonical(obj), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def library_versions() -> dict[str, str]:
    """Installed versions of the libraries that shape the output (read from metadata: no import)."""
    out: dict[str, str] = {}
    for name in LIBRARIES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


@functools.cache
def source_digest() -> str:
    """Digest of the package's build code and data files.

    `__version__` alone would let a development checkout reuse outputs built by older code;
    hashing the sources (a few hundred KB, once per run) catches every change that matters.
    """
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    files = [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and (p.suffix != ".py" or p.relative_to(root).as_posix() not in NOT_BUILD_CODE)
             and p.suffix in (".py", ".yaml", ".yml", ".json", ".txt")]
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def _tiny_config_digest(model_type: str) -> str:
    from tinymodels.tiny_config import tiny_config_dict

    try:
        try:
            tiny = tiny_config_dict(model_type, check=False)  # type: ignore[call-arg]  # the dict, unvalidated: cheaper
        except TypeError:
            tiny = tiny_config_dict(model_type)
        return digest(tiny)
    except Exception as exc:  # noqa: BLE001 - a config that cannot be built still has an identity
        return digest({"error": f"{type(exc).__name__}: {exc}"})


def _repo_test_digest(model_type: str, repo: Path) -> str:
    """With --transformers-repo the tiny config comes from the type's modeling test file: hash that file."""
    try:
        from tinymodels.upstream_config import modeling_test_file

        path = modeling_test_file(model_type, repo)
        return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "absent"
    except Exception as exc:  # noqa: BLE001 - identity of "could not tell"
        return f"error: {type(exc).__name__}"


def _override(model_type: str) -> Any:
    from tinymodels.knowledge import override_for

    override = override_for(model_type)
    return canonical(dataclasses.asdict(override)) if override is not None else None


def compute(model_type: str, options: BuildOptions, corpus: str, versions: dict[str, str]) -> dict[str, Any]:
    """The fingerprint of one model type (a small JSON-able dict).

    `corpus` is `corpus.corpus_id(options.corpus)` and `versions` `library_versions()`,
    passed in so that a run over hundreds of types computes them once.
    """
    from tinymodels.discover import architectures_for
    from tinymodels.fidelity.levels import spelled

    archs = set(architectures_for(model_type))
    return {
        "tinymodels": __version__,
        "tinymodels_source": source_digest(),
        **versions,
        "model_type": model_type,
        "tiny_config": _tiny_config_digest(model_type),
        "override": _override(model_type),
        "corpus": corpus,
        "vocab_size": options.vocab_size,
        "seed": options.seed,
        "skip": sorted(archs & set(options.skip)),
        "validate": spelled(options.validate),
        "transformers_repo": (None if options.transformers_repo is None
                              else _repo_test_digest(model_type, Path(options.transformers_repo))),
    }


def changed_fields(old: dict[str, Any] | None, new: dict[str, Any]) -> list[str]:
    """Names of the fingerprint fields that differ (for 'rebuilding: X changed' messages)."""
    if not old:
        return ["no previous build"]
    keys = sorted(set(old) | set(new))
    return [k for k in keys if old.get(k) != new.get(k)]


def read_stamp(type_dir: Path) -> dict[str, Any] | None:
    """The stamp of a finished type folder, or None when absent or unreadable."""
    try:
        data = json.loads((type_dir / STAMP).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != STAMP_FORMAT:
        return None
    if not isinstance(data.get("entry"), dict) or not isinstance(data.get("config_class"), str):
        return None
    return data


def stamp_text(fingerprint: dict[str, Any], config_class: str, entry: dict[str, Any]) -> str:
    """The stamp file's content: fingerprint, config class name and the type's result entry."""
    from tinymodels.reports import dump_json

    return dump_json({"format": STAMP_FORMAT, "fingerprint": fingerprint, "config_class": config_class,
                      "entry": entry})
