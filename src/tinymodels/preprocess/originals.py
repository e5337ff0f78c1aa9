"""Tokenizers and processors from the original checkpoints (`--tokenizer-source original`).

Upstream's `create_dummy_models.py` shrinks each model's real tokenizer and processors. With
`--tokenizer-source original`, a type's checkpoint is the user's `--original TYPE=REPO_OR_PATH`
or the one its config class documents (`[org/name](https://huggingface.co/org/name)`, else the
modeling module's `_CHECKPOINT_FOR_DOC`). Only its tokenizer and processor files are fetched
(`huggingface_hub.snapshot_download` with `allow_patterns`, which honours `HF_ENDPOINT`,
`HF_HUB_OFFLINE` and the cache), or read from a local folder.

- The tokenizer, loaded as the type's tokenizer class (a sentencepiece-only checkpoint goes
  through that class's own sentencepiece-to-`tokenizers` conversion), is retrained to the target
  vocabulary with `train_new_from_iterator`, which keeps its normalizer, pre-tokenizer,
  post-processor and special tokens; its model is then trained deterministically as blank
  tokenizers are (`trainers.retrain_model`), and its plain added tokens and chat template
  are put back.
- Image/video processors and feature extractors start from the checkpoint's settings
  (normalisation, resampling, sampling rate…); their sizes are then adapted to the tiny config
  as for blank builds.

Whatever cannot be had or retrained falls back, per component, to the blank build with the
reason (category `source-fallback`): a missing original never fails the run. `Source.record()`
gives the report fields (`tokenizer_source`, `processor_source`, `source_fallback`). A type whose
build from the original fails is rebuilt from blank (`blank_rebuild.py`).
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

BLANK: Final[str] = "blank"
ORIGINAL: Final[str] = "original"
TOKENIZER_SOURCES: Final[tuple[str, ...]] = (BLANK, ORIGINAL)
FALLBACK_CATEGORY: Final[str] = "source-fallback"

# Tokenizer and processor files only: never weights.
ALLOW_PATTERNS: Final[list[str]] = [
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
    "vocab.json", "vocab.txt", "merges.txt", "*.model", "*.tiktoken", "chat_template.jinja", "chat_template.json",
    "preprocessor_config.json", "processor_config.json", "video_preprocessor_config.json",
]
# Processor component -> the file its settings are saved in.
_COMPONENT_FILES: Final[dict[str, str]] = {
    "image_processor": "preprocessor_config.json",
    "feature_extractor": "preprocessor_config.json",
    "video_processor": "video_preprocessor_config.json",
}
# Keys of a saved processor config that are bookkeeping, not settings.
_NOT_SETTINGS: Final[frozenset[str]] = frozenset({
    "image_processor_type", "feature_extractor_type", "video_processor_type", "processor_class", "auto_map",
})
# Init kwargs `from_pretrained` records about the loading itself (local_files_only follows
# HF_HUB_OFFLINE, name_or_path is a cache path): kept out of the saved files so they are
# independent of the environment.
_LOADING_KWARGS: Final[tuple[str, ...]] = (
    "local_files_only", "_from_auto", "trust_remote_code", "cache_dir", "token", "revision", "name_or_path",
    "_commit_hash",
)
# Set (per process) when the Hub could not be reached: later fetches read the cache only.
_UNREACHABLE: list[str] = []


class SourceError(RuntimeError):
    """An original tokenizer or processor cannot be had or used (the message says why)."""


def parse_originals(values: list[str]) -> tuple[tuple[str, str], ...]:
    """`TYPE=REPO_OR_PATH` flags -> sorted (type, ref) pairs; raises ValueError on a malformed one."""
    pairs: dict[str, str] = {}
    for value in values:
        model_type, sep, ref = value.partition("=")
        if not sep or not model_type.strip() or not ref.strip():
            raise ValueError(f"--original takes TYPE=REPO_OR_PATH (got {value!r})")
        pairs[model_type.strip()] = ref.strip()
    return tuple(sorted(pairs.items()))


def checkpoint_for(model_type: str, originals: tuple[tuple[str, str], ...] = ()) -> str | None:
    """The original checkpoint of a type: the user's mapping, else the config class's documented
    checkpoint, else its modeling module's `_CHECKPOINT_FOR_DOC` (None when there is none)."""
    mapped = dict(originals).get(model_type)
    if mapped:
        return mapped
    from transformers.utils.auto_docstring import get_checkpoint_from_config_class

    from tinymodels.config.discover import config_class

    cls = config_class(model_type)
    found = get_checkpoint_from_config_class(cls)
    if found:
        return str(found)
    package = cls.__module__.rsplit(".", 1)[0]
    try:
        module = importlib.import_module(f"{package}.modeling_{model_type}")
    except ImportError:
        return None
    found = getattr(module, "_CHECKPOINT_FOR_DOC", None)
    return found if isinstance(found, str) and found else None


def fetch(ref: str) -> Path:
    """The folder holding `ref`'s tokenizer/processor files: a local folder as is, else a Hub
    snapshot of those files only (through the cache; offline mode reads the cache only)."""
    local = Path(ref).expanduser()
    if local.is_dir():
        return local
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        # Once the Hub proved unreachable, the cache alone answers: the client's retries with
        # backoff (about 20 s) would otherwise be paid again for every type of the run.
        return Path(snapshot_download(ref, allow_patterns=ALLOW_PATTERNS, local_files_only=bool(_UNREACHABLE)))
    except Exception as exc:  # noqa: BLE001 - offline, missing, gated, network: all mean "not available"
        if isinstance(exc, LocalEntryNotFoundError) and _UNREACHABLE:
            raise SourceError(f"cannot fetch {ref}: the Hub was unreachable earlier in this run "
                              "and the cache does not hold it") from exc
        cause = exc.__cause__
        if isinstance(exc, LocalEntryNotFoundError) and (isinstance(cause, OSError)
                                                         or type(cause).__name__ in ("ConnectError", "ConnectTimeout")):
            _UNREACHABLE.append(ref)
        raise SourceError(f"cannot fetch {ref}: {_short(exc)}") from exc


# Per-request noise in Hub client errors: kept out of reports, which must not change between runs.
_REQUEST_ID = re.compile(r"\s*\(Request ID: [^)]*\)")


def _short(exc: BaseException) -> str:
    first = _REQUEST_ID.sub("", (str(exc).strip().splitlines() or [""])[0])
    return f"{type(exc).__name__}: {first[:200]}"


def _clean(tok: Any) -> Any:
    for key in _LOADING_KWARGS:
        tok.init_kwargs.pop(key, None)
    return tok


def _load_tokenizer(class_name: str, folder: Path) -> Any:
    """The original tokenizer as the type's class (its own conversion for sentencepiece files)."""
    import transformers
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    cls = getattr(transformers, class_name, None)
    if cls is None:
        raise SourceError(f"transformers has no tokenizer class {class_name!r}")
    if not any((folder / name).exists() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt",
                                                     "vocab.json")) and not list(folder.glob("*.model")):
        raise SourceError(f"{folder.name}: the checkpoint has no tokenizer files")
    try:
        tok = cls.from_pretrained(str(folder))
    except Exception as exc:  # noqa: BLE001 - any loading failure means this original is unusable
        raise SourceError(f"{class_name} cannot load the original tokenizer: {_short(exc)}") from exc
    if not isinstance(tok, TokenizersBackend):
        raise SourceError(f"{class_name} is not backed by `tokenizers`: it cannot be retrained")
    return tok


def retrain(original: Any, corpus: list[str], vocab_size: int) -> Any:
    """`original` retrained to `vocab_size` tokens on `corpus`, keeping its pipeline, special and
    added tokens and chat template. Deterministic: the Rust trainer only sets up special tokens and
    post-processor ids (on a few lines); the model itself is trained by `retrain_model`."""
    from tokenizers import Tokenizer

    from tinymodels.preprocess.trainers import PLUMBING_LINES, retrain_model, train_with_panic_guard

    trained = train_with_panic_guard(original.train_new_from_iterator, list(corpus[:PLUMBING_LINES]),
                                      vocab_size, show_progress=False)
    # Plain added tokens (tool-call tags, placeholders) outside the model's vocabulary come back
    # with the ids the plumbing model gave them: they are taken out while the model is trained
    # and added back after it, which leaves room for them within `vocab_size`.
    data = json.loads(trained._tokenizer.to_str())
    vocab = data["model"]["vocab"]
    in_model = {p[0] for p in vocab} if isinstance(vocab, list) else set(vocab)
    plain = [a["content"] for a in data["added_tokens"] if not a["special"] and a["content"] not in in_model]
    data["added_tokens"] = [a for a in data["added_tokens"] if a["content"] not in plain]
    budget = vocab_size - len(plain)
    if budget <= len(data["added_tokens"]):
        raise SourceError(f"{len(plain)} added tokens leave no room in a vocabulary of {vocab_size}")
    trained._tokenizer = retrain_model(Tokenizer.from_str(json.dumps(data)), corpus, budget)
    if plain:
        originals = {t.content: t for t in original.added_tokens_decoder.values()}
        trained.add_tokens([originals.get(content, content) for content in plain])
    if original.chat_template is not None:
        trained.chat_template = original.chat_template
    if len(trained) > vocab_size:
        raise SourceError(f"the retrained tokenizer has {len(trained)} tokens (> {vocab_size})")
    return trained


@functools.lru_cache(maxsize=32)
def _retrained_dir(class_name: str, folder: str, corpus_source: str, vocab_size: int) -> str:
    """Retrain once per (class, original, corpus, vocab size) per process; keep the files on disk."""
    from tinymodels.preprocess.corpus import load_corpus
    from tinymodels.preprocess.tokenization import _save_checked

    original = _load_tokenizer(class_name, Path(folder))
    try:
        trained = retrain(original, list(load_corpus(corpus_source)), vocab_size)
        return _save_checked(_clean(trained), type(original), vocab_size, False)
    except SourceError:
        raise
    except Exception as exc:  # noqa: BLE001 - an original the retraining cannot handle falls back
        raise SourceError(f"the original {class_name} cannot be retrained: {_short(exc)}") from exc


def settings_from(folder: Path, component: str, class_name: str) -> dict[str, Any]:
    """The checkpoint's saved settings of a processor component that `class_name` accepts
    (empty when the checkpoint has no such file); raises SourceError when they are unusable."""
    import transformers

    from tinymodels.preprocess.image_processors import settable_kwargs

    path = folder / _COMPONENT_FILES[component]
    nested = folder / "processor_config.json"
    if path.is_file():
        data = json.loads(path.read_text(encoding="utf-8"))
    elif nested.is_file() and isinstance(json.loads(nested.read_text(encoding="utf-8")).get(component), dict):
        # transformers 5 saves a processor's components inside processor_config.json.
        path = nested
        data = json.loads(nested.read_text(encoding="utf-8"))[component]
    else:
        raise SourceError(f"the checkpoint has no {path.name}")
    if component == "image_processor" and "feature_extractor_type" in data and "image_processor_type" not in data \
            and "sampling_rate" in data:
        raise SourceError(f"{path.name} holds a feature extractor, not an image processor")
    cls = getattr(transformers, class_name)
    valid = settable_kwargs(cls)
    settings = {k: v for k, v in sorted(data.items()) if k in valid and k not in _NOT_SETTINGS}
    try:
        cls(**settings)
    except Exception as exc:  # noqa: BLE001 - settings this class version rejects mean falling back
        raise SourceError(f"{class_name} rejects the checkpoint's {path.name}: {_short(exc)}") from exc
    return settings


@dataclass
class Source:
    """Where one model type's tokenizer and processors come from, and what fell back and why."""

    model_type: str
    requested: str = BLANK
    ref: str | None = None
    folder: Path | None = None
    # None until the type asks for a tokenizer / processor component (then BLANK or `origin`).
    tokenizer_source: str | None = None
    processor_source: str | None = None
    fallbacks: list[str] = field(default_factory=list)
    _kept_template: bool = False

    @property
    def origin(self) -> str:
        return f"{ORIGINAL}:{self.ref}"

    def fall_back(self, component: str, reason: str) -> None:
        """Record that `component` is built blank, and why."""
        from tinymodels.errors import scrub

        message = scrub(f"{component}: {reason}; built from blank instead")
        log.warning("%s: %s %s", self.model_type, FALLBACK_CATEGORY, message)
        self.fallbacks.append(message)

    def tokenizer(self, class_name: str, corpus_source: str, vocab_size: int) -> Any:
        """The type's tokenizer: the original retrained when requested and possible, else blank."""
        import transformers

        from tinymodels.preprocess.tokenization import train_tokenizer

        if self.requested == ORIGINAL and self.folder is not None:
            try:
                path = _retrained_dir(class_name, str(self.folder), corpus_source, vocab_size)
                tok = _clean(getattr(transformers, class_name).from_pretrained(path))
                tok.tinymodels_fallback = None
                self.tokenizer_source = self.origin
                self._kept_template = tok.chat_template is not None
                return tok
            except SourceError as exc:
                self.fall_back("tokenizer", str(exc))
            except Exception as exc:  # noqa: BLE001 - an unusable original means the blank tokenizer
                self.fall_back("tokenizer", _short(exc))
        self.tokenizer_source = BLANK
        return train_tokenizer(class_name, corpus_source, vocab_size)

    def settings(self, component: str, class_name: str) -> dict[str, Any]:
        """The checkpoint's settings for a processor component, or {} (blank defaults)."""
        if self.requested != ORIGINAL or self.folder is None:
            self.processor_source = self.processor_source or BLANK
            return {}
        try:
            settings = settings_from(self.folder, component, class_name)
        except Exception as exc:  # noqa: BLE001 - unreadable or refused settings mean the class defaults
            self.fall_back(component, str(exc) if isinstance(exc, SourceError) else _short(exc))
            self.processor_source = self.processor_source or BLANK
            return {}
        self.processor_source = self.origin
        return settings

    def keep_template(self, procs: Any) -> str | None:
        """With the original's chat template kept, give it to the processor too and name it;
        None when the type gets its family's template (blank, or an original without one)."""
        if not self._kept_template or procs.tokenizer is None:
            return None
        if procs.processor is not None:
            procs.processor.chat_template = procs.tokenizer.chat_template
        return ORIGINAL

    def warnings(self) -> list[str]:
        """One report warning per fallback, tagged with the category."""
        return [f"[{FALLBACK_CATEGORY}] {reason}" for reason in self.fallbacks]

    def record(self) -> dict[str, Any]:
        """Report fields (none for a blank build, which is the default)."""
        if self.requested == BLANK:
            return {}
        out: dict[str, Any] = {"tokenizer_source": self.tokenizer_source or "none",
                               "processor_source": self.processor_source or "none"}
        if self.fallbacks:
            out["source_fallback"] = {"category": FALLBACK_CATEGORY, "reasons": list(self.fallbacks)}
        return out


def combine_records(encoder: dict[str, Any], decoder: dict[str, Any]) -> dict[str, Any]:
    """A composite's report fields: the tokenizer is the decoder side's, the processors the
    encoder side's (as `composite.combine_processors` assembles them); fallbacks of both."""
    if not encoder and not decoder:
        return {}
    out = {"tokenizer_source": decoder.get("tokenizer_source", "none"),
           "processor_source": encoder.get("processor_source", "none")}
    reasons = [r for side in (encoder, decoder) for r in side.get("source_fallback", {}).get("reasons", [])]
    if reasons:
        out["source_fallback"] = {"category": FALLBACK_CATEGORY, "reasons": reasons}
    return out


def open_source(model_type: str, options: Any) -> Source:
    """The source of a type's tokenizer and processors for these options; never raises (a
    checkpoint that cannot be found or fetched is a recorded fallback)."""
    source = Source(model_type, getattr(options, "tokenizer_source", BLANK))
    if source.requested != ORIGINAL:
        return source
    try:
        source.ref = checkpoint_for(model_type, getattr(options, "originals", ()))
        if source.ref is None:
            raise SourceError("no original checkpoint is documented for this type (pass --original TYPE=REPO)")
        source.folder = fetch(source.ref)
    except SourceError as exc:
        source.fall_back("tokenizer and processors", str(exc))
    except Exception as exc:  # noqa: BLE001 - looking the checkpoint up must not fail the run
        source.fall_back("tokenizer and processors", _short(exc))
    return source
