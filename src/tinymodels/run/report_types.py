"""The shapes of the report files, as TypedDicts, and the names of their repeated keys.

These describe the JSON the runner writes and `ci/*` and `hub/*` read back; they are types
only (no runtime checks: `ci.aggregate.validate_creation_report` checks what it reads).
Every key is optional (``total=False``) because reports come back from JSON written by
other shards or older versions; the comments say which keys the builder always writes.

The creation report (`tiny_model_creation_report.json`) keeps upstream's layout: config
class name → `Entry`, whose ``"pytorch"`` map holds one `ArchEntry` per architecture.
"""

from __future__ import annotations

from typing import Final, Literal, TypedDict

# Upstream's key for the architectures of a config class (a framework name: it once had "tensorflow").
PYTORCH: Final = "pytorch"

# Where a type's tokenizer/processors came from (`originals.Source.record`): keys of a creation-report
# entry that its summary entries repeat. Literal, so that they index the TypedDicts below.
SourceField = Literal["tokenizer_source", "processor_source"]
SOURCE_FIELDS: Final[tuple[SourceField, ...]] = ("tokenizer_source", "processor_source")

# `[message, traceback]`: the traceback is None for errors that have none (skips, nothing to build).
# A JSON list, not a tuple, once the report has been read back.
ErrorPair = list[str | None]

# A validation level's outcome: "ok", "failed" or "skipped: <reason>" (`validate.levels`).
Outcome = str
# Per level, its outcome; the pipeline level maps each task to its own outcome.
Levels = dict[str, Outcome | dict[str, Outcome]]


class ArchEntry(TypedDict, total=False):
    """One architecture of a config class: built and validated, or why not."""

    # Always written; both None when the architecture failed.
    model: str | None
    checkpoint: str | None  # relative to the output directory, e.g. "bert/BertModel"
    # Only when built.
    params: int
    bytes: int
    seconds: float
    level_seconds: dict[str, float]
    # The levels run so far (also on a failure at a level).
    levels: Levels
    # Only when failed: the error, its category and, for a failed validation level, its name.
    error: ErrorPair
    category: str
    level: str
    # Added by `tinymodels upload`: the Hub commit (None when the upload reported none), repo and PR.
    sha: str | None
    repo_id: str
    pr_url: str


class CompositeSources(TypedDict):
    """Where each side of a composite's config came from."""

    encoder: str
    decoder: str


class Composite(TypedDict, total=False):
    """The two model types an upstream composite (`EncoderDecoderModel-bert-bert`) combines."""

    encoder: str
    decoder: str
    config_source: CompositeSources


class SourceFallback(TypedDict):
    """Why parts of a `--tokenizer-source original` build were made from blank instead."""

    category: str
    reasons: list[str]


class Entry(TypedDict, total=False):
    """One config class of the creation report (upstream's result entry)."""

    # Always written.
    model_type: str
    processor: dict[str, str]  # processor class name → itself (upstream's shape)
    pytorch: dict[str, ArchEntry]
    seconds: float
    # When the type got that far.
    config_source: str
    vocab_size: int
    chat_template: str  # a family's format name, or "original"
    warnings: list[str]
    composite: Composite
    # Only with --tokenizer-source original: "original:REPO", "blank" or "none".
    tokenizer_source: str
    processor_source: str
    source_fallback: SourceFallback
    # When the type failed as a whole (its architectures then carry the same error).
    error: ErrorPair
    # Not written by the builder; a hand-made report may carry it and the job summary shows it.
    category: str


# `tiny_model_creation_report.json`: config class name → entry.
Report = dict[str, Entry]


class SummaryEntry(TypedDict, total=False):
    """One architecture of `tiny_model_summary.json` (upstream's layout, plus the sources)."""

    tokenizer_classes: list[str]
    processor_classes: list[str]
    model_classes: list[str]
    sha: str | None  # the Hub commit, once uploaded (upstream's file may hold null)
    tokenizer_source: str
    processor_source: str


# `tiny_model_summary.json`: architecture name → entry.
Summary = dict[str, SummaryEntry]


class FailedArch(TypedDict):
    """A failed architecture in `failed_report.json`: only its error."""

    error: ErrorPair


class FailedEntry(TypedDict, total=False):
    """A config class of `failed_report.json`: its own error and warnings, its failed architectures."""

    error: ErrorPair
    warnings: list[str]
    pytorch: dict[str, FailedArch]


# `failed_report.json`: config class name → what went wrong.
FailedReport = dict[str, FailedEntry]

# `failed_uploads.json`: model folder (relative to the output) → the upload's error message.
FailedUploads = dict[str, str]
