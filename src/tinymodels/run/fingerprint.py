"""Per-model-type fingerprints: everything that decides what a type's build produces.

A model type's output is up to date when the fingerprint stored beside it in
``{output}/{model_type}/.tinymodels.json`` equals the one computed now. The
fingerprint holds what determines the output, and nothing that needs torch or
transformers imported to know: the tool version and a digest of its code and knowledge
files (so a code change in a development checkout rebuilds), the installed library
versions (package metadata), the corpus identity, vocab size, seed, validation levels,
the skip list restricted to the type's architectures and, with ``--transformers-repo``,
a digest of the type's modeling test file there (whose ModelTester gives the tiny config).

The two facts about a type that need transformers (its architectures and its modeling
test file's path: `TypeFacts`) are functions of the installed transformers, which the
fingerprint already holds: an up-to-date check takes them from the stamp, and only a
type about to be built resolves them. The tiny config itself is not fingerprinted: it is
computed, from fingerprinted inputs, only when a type is built.

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
from tinymodels.run.output import STAMP

STAMP_FORMAT: Final[int] = 2
# Libraries whose version can change what a build writes (configs, tokenizers, weights, processors).
LIBRARIES: Final[tuple[str, ...]] = ("transformers", "tokenizers", "torch", "sentencepiece", "safetensors", "timm")
# Modules that do not shape what a build writes: editing them must not invalidate outputs.
# (errors.py does: its `scrub` writes the error messages of result entries.)
NOT_BUILD_CODE: Final[frozenset[str]] = frozenset({"__main__.py", "cli.py", "log.py"})
# Sub-packages that run, report or publish builds without shaping them.
NOT_BUILD_PACKAGES: Final[frozenset[str]] = frozenset({"run", "ci", "hub"})


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
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    files = [p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts
             and (p.suffix != ".py" or (p.relative_to(root).as_posix() not in NOT_BUILD_CODE
                                        and p.relative_to(root).parts[0] not in NOT_BUILD_PACKAGES))
             and p.suffix in (".py", ".yaml", ".yml", ".json", ".txt")]
    for path in sorted(files):
        h.update(path.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(path.read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class TypeFacts:
    """What the fingerprint needs to know of a type that only transformers can tell."""

    architectures: tuple[str, ...]
    # `--transformers-repo`'s modeling test file of the type, relative to the repository.
    test_file: str | None = None


def type_facts(model_type: str, options: BuildOptions) -> TypeFacts:
    """Resolve a type's `TypeFacts` through transformers (imports it)."""
    from tinymodels.config.discover import architectures_for

    test_file = None
    if options.transformers_repo is not None:
        repo = Path(options.transformers_repo)
        try:
            from tinymodels.config.upstream_config import modeling_test_file

            test_file = modeling_test_file(model_type, repo).relative_to(repo).as_posix()
        except Exception as exc:  # noqa: BLE001 - identity of "could not tell" (the build reports why)
            test_file = f"error: {type(exc).__name__}"
    return TypeFacts(tuple(architectures_for(model_type)), test_file)


def facts_from_stamp(stamp: dict[str, Any]) -> TypeFacts | None:
    """The `TypeFacts` a stamp was computed with (valid while the rest of its fingerprint matches)."""
    fp: Any = stamp.get("fingerprint")  # (Any: a dict wherever `archs` below is a list)
    archs = fp.get("architectures") if isinstance(fp, dict) else None
    if not isinstance(archs, list):
        return None
    repo = fp.get("transformers_repo")
    return TypeFacts(tuple(archs), repo.get("file") if isinstance(repo, dict) else None)


def _test_file_digest(repo: Path, test_file: str | None) -> str:
    if test_file is None or test_file.startswith("error:"):
        return "absent"
    path = repo / test_file
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.is_file() else "absent"


def environment(versions: dict[str, str]) -> dict[str, Any]:
    """The fingerprint fields shared by every type: the tool, its code and the library versions."""
    return {"tinymodels": __version__, "tinymodels_source": source_digest(), **versions}


def compute(model_type: str, options: BuildOptions, corpus: str, versions: dict[str, str],
            facts: TypeFacts) -> dict[str, Any]:
    """The fingerprint of one model type (a small JSON-able dict; no torch or transformers import).

    `corpus` is `corpus.corpus_id(options.corpus)` and `versions` `library_versions()`,
    passed in so that a run over hundreds of types computes them once.
    """
    from tinymodels.options import spelled

    repo = options.transformers_repo
    # The source option only when it is not the default, so blank outputs keep their fingerprints;
    # switching source or the named originals rebuilds (all of them: a composite uses its sides').
    source = ({} if options.tokenizer_source == "blank" else
              {"tokenizer_source": options.tokenizer_source, "originals": dict(options.originals)})
    return {
        **environment(versions),
        "model_type": model_type,
        "architectures": list(facts.architectures),
        "corpus": corpus,
        "vocab_size": options.vocab_size,
        "seed": options.seed,
        "skip": sorted(set(facts.architectures) & set(options.skip)),
        "validate": spelled(options.validate),
        "transformers_repo": (None if repo is None else
                              {"file": facts.test_file, "sha": _test_file_digest(Path(repo), facts.test_file)}),
        **source,
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
    from tinymodels.run.reports import dump_json

    return dump_json({"format": STAMP_FORMAT, "fingerprint": fingerprint, "config_class": config_class,
                      "entry": entry})


# The `--all` type list of an output, with the environment it was resolved in.
TYPES_STAMP: Final[str] = ".tinymodels-types.json"


def stamped_types(output: Path, requested: list[str], all_types: bool) -> list[str] | None:
    """The resolved model types, known without importing transformers, or None.

    The type list is a function of the environment (transformers and our code): requested
    names that each have a stamp from the same environment were valid when stamped; `--all`
    reuses the list stamped in the output by the last `--all` run in the same environment.
    """
    env = environment(library_versions())
    if all_types:
        try:
            data = json.loads((output / TYPES_STAMP).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        types = data.get("model_types") if isinstance(data, dict) and data.get("environment") == env else None
        return [str(t) for t in types] if isinstance(types, list) else None
    names = list(dict.fromkeys(requested))
    for name in names:
        stamp = read_stamp(output / name)
        fp = stamp.get("fingerprint") if stamp else None
        if not isinstance(fp, dict) or fp.get("model_type") != name or any(fp.get(k) != v for k, v in env.items()):
            return None
    return names or None


def stamp_types(output: Path, model_types: list[str]) -> None:
    """Record the `--all` type list resolved in this environment (read by `stamped_types`)."""
    from tinymodels.run.reports import atomic_write_text

    output.mkdir(parents=True, exist_ok=True)
    atomic_write_text(output / TYPES_STAMP, json.dumps(
        {"environment": environment(library_versions()), "model_types": model_types}, indent=1) + "\n")
