"""Tokenizers trained from blank to the target vocabulary, offline.

Three routes, chosen from the tokenizer class alone:
1. a `TokenizersBackend` subclass with its own pipeline (BertTokenizer, GPT2Tokenizer…):
   instantiate it blank and `train_new_from_iterator`, which keeps its model type,
   normalizer, pre-tokenizer and special tokens;
2. the generic `TokenizersBackend` (types with no dedicated class): a byte-level BPE
   trained with the `tokenizers` library, wrapped as `TokenizersBackend`;
3. a `PythonBackend` class that needs vocabulary files: the files named by its
   `vocab_files_names` are generated from the corpus (char vocab, BPE vocab+merges,
   WordPiece vocab, or a sentencepiece model), then the class loads them.
Byte/char-level classes that need no files are used as they are, with their own fixed
vocabulary (CanineTokenizer: every code point): the vocabulary-size ceiling applies to
trained vocabularies only (Canine's config has no `vocab_size`; configs that have one get
`len(tokenizer)` from `align.py`, which a fixed byte vocabulary keeps small).
A `TokenizersBackend` subclass that cannot be built blank and defines no pipeline of its own
(no `__init__`, only decoding tweaks: ParakeetTokenizer) wraps the generic byte-level BPE.

Fallback: when the mapped class cannot be trained offline for a reason about the class
(a blank init or file set it cannot be given, a pre-tokenizer that cannot be serialized,
more tokens than the budget), the generic `TokenizersBackend` byte-level BPE is trained
instead. The returned tokenizer carries the reason in `tokenizer.tinymodels_fallback`
(None otherwise), and it is logged. Per-class knowledge that the classes do not carry
(extra init arguments, extra files, forced fallbacks) is data in `resources/tokenizers.yaml`.

Determinism: every model is trained by `trainers.py` (see there), with explicit tie-breaks.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tinymodels.preprocess.corpus import load_corpus
from tinymodels.preprocess.trainers import (
    PLUMBING_LINES,
    TokenizerBuildError,
    retrain_model,
    train_with_panic_guard,
)

log = logging.getLogger(__name__)

SPECIALS_GENERIC = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


_CLASS_FIELDS = frozenset({"reason", "init", "files", "fallback"})


@functools.cache
def class_knowledge() -> dict[str, dict[str, Any]]:
    """`resources/tokenizers.yaml`: per tokenizer class, what the class itself does not carry.

    `init`: extra keyword arguments (blank or with generated files); `files`: extra JSON files,
    by `__init__` argument, written under the class's `vocab_files_names`; `fallback: true`:
    training "succeeds" but the result is unusable, so train the generic backend. Each entry
    has a `reason`.
    """
    from tinymodels.knowledge import load_resource

    data = load_resource("tokenizers.yaml")
    for name, entry in data.items():
        if not isinstance(entry, dict) or not entry.get("reason") or set(entry) - _CLASS_FIELDS:
            raise ValueError(f"tokenizers.yaml: {name}: a mapping with a 'reason' and only {sorted(_CLASS_FIELDS)}")
    return data


def _transformers_class(name: str) -> type[Any]:
    import transformers

    cls = getattr(transformers, name, None)
    if cls is None:
        raise TokenizerBuildError(f"transformers has no tokenizer class {name!r}")
    return cls


def _generic_backend(corpus: Sequence[str], vocab_size: int, cls: type[Any] | None = None) -> Any:
    """A byte-level BPE wrapped as `cls` (default: the generic `TokenizersBackend`)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    tok = Tokenizer(models.BPE(unk_token=None))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=list(SPECIALS_GENERIC.values()),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    # The Rust trainer only registers the special tokens; the model is trained deterministically.
    train_with_panic_guard(tok.train_from_iterator, corpus[:PLUMBING_LINES], trainer=trainer)
    tok = retrain_model(tok, corpus, vocab_size)
    return (cls or TokenizersBackend)(tokenizer_object=tok, **SPECIALS_GENERIC)


def _char_vocab(corpus: Sequence[str], vocab_size: int, specials: Sequence[str]) -> dict[str, int]:
    counts = Counter(ch for line in corpus for ch in line if not ch.isspace())
    vocab: dict[str, int] = {}
    for s in specials:
        vocab.setdefault(s, len(vocab))
    for ch, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        if len(vocab) >= vocab_size:
            break
        vocab.setdefault(ch, len(vocab))
    return vocab


_BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


def _default_tokens(cls: type[Any]) -> list[str]:
    """The string defaults of the class's `*_token` init arguments, in signature order."""
    import inspect

    params = inspect.signature(cls.__init__).parameters.values()
    return [p.default for p in params if p.name.endswith("_token") and isinstance(p.default, str) and p.default]


def _files_for(cls: type[Any], corpus: Sequence[str], vocab_size: int, workdir: Path) -> dict[str, str]:
    """Generate the vocabulary files a file-based tokenizer class asks for."""
    names: dict[str, str] = dict(getattr(cls, "vocab_files_names", {}) or {})
    kwargs: dict[str, str] = {}
    vocab_name = names.get("vocab_file", "")
    spm_keys = [k for k, v in names.items() if v.endswith((".model", ".spm"))]
    json_keys = [k for k, v in names.items() if v.endswith(".json") and k != "tokenizer_config_file"]
    if spm_keys and json_keys:
        # Sentencepiece model(s) plus a JSON piece->id vocabulary (Speech2Text, M2M100, Marian).
        import sentencepiece as spm

        model = _sentencepiece_model(corpus, vocab_size - len(SPECIALS_GENERIC), workdir)
        sp = spm.SentencePieceProcessor(model_file=str(model))
        vocab = {sp.id_to_piece(i): i for i in range(sp.get_piece_size())}
        for special in SPECIALS_GENERIC.values():
            vocab.setdefault(special, len(vocab))
        (workdir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        return {k: str(model) for k in spm_keys} | {k: str(workdir / "vocab.json") for k in json_keys}
    if vocab_name.endswith(".json") and "merges_file" in names:
        bpe = _generic_backend(corpus, vocab_size)
        model = json.loads(bpe._tokenizer.to_str())["model"]
        (workdir / "vocab.json").write_text(json.dumps(model["vocab"], ensure_ascii=False), encoding="utf-8")
        merges = [m if isinstance(m, str) else " ".join(m) for m in model["merges"]]
        (workdir / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
        kwargs = {"vocab_file": str(workdir / "vocab.json"), "merges_file": str(workdir / "merges.txt")}
    elif vocab_name.endswith(".json"):
        # Character-level vocabularies (CTC tokenizers): specials, word delimiter, characters.
        vocab = _char_vocab(corpus, vocab_size, ["<pad>", "<s>", "</s>", "<unk>", "|"])
        (workdir / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
        kwargs = {"vocab_file": str(workdir / "vocab.json")}
    elif vocab_name.endswith((".txt", ".tokenizer")):  # one WordPiece token a line (ProphetNet: .tokenizer)
        from tokenizers import BertWordPieceTokenizer

        wp = BertWordPieceTokenizer(lowercase=False)
        # The class's own default tokens join BERT's (CpmAnt's "</_>" space token, GPT-NeoX-Japanese's
        # "<|endoftext|>"): classes that look them up in the vocabulary need them there.
        specials = list(dict.fromkeys([*_BERT_SPECIALS, *_default_tokens(cls)]))
        # As for backends: the Rust trainer registers the special tokens, ours trains the model.
        train_with_panic_guard(wp.train_from_iterator, corpus[:PLUMBING_LINES], vocab_size=vocab_size,
                                special_tokens=specials, show_progress=False)
        trained = retrain_model(wp._tokenizer, corpus, vocab_size)
        vocab_items = sorted(trained.get_vocab().items(), key=lambda kv: kv[1])
        (workdir / vocab_name).write_text("\n".join(t for t, _ in vocab_items) + "\n", encoding="utf-8")
        kwargs = {"vocab_file": str(workdir / vocab_name)}
    elif vocab_name.endswith(".model"):
        kwargs = {"vocab_file": str(_sentencepiece_model(corpus, vocab_size, workdir))}
    else:
        raise TokenizerBuildError(f"{cls.__name__} needs files {names} that tinymodels cannot generate yet")
    # Side files the vocabulary does not give (RoCBert's word shapes): fixed contents from data.
    for arg, content in (class_knowledge().get(cls.__name__, {}).get("files") or {}).items():
        path = workdir / names.get(arg, f"{arg}.json")
        path.write_text(json.dumps(content, ensure_ascii=False, sort_keys=True), encoding="utf-8")
        kwargs[arg] = str(path)
    return kwargs


def _sentencepiece_model(corpus: Sequence[str], vocab_size: int, workdir: Path) -> Path:
    """Train a deterministic sentencepiece unigram model on the corpus.

    One thread gives the same pieces in every process; training from an iterator into
    memory keeps temporary paths out of the model's trainer spec, so the bytes match too.
    """
    import io

    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus), model_writer=model, vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, num_threads=1, seed_sentencepiece_size=100_000, shuffle_input_sentence=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, minloglevel=2,
    )
    path = workdir / "spiece.model"
    path.write_bytes(model.getvalue())
    return path


def _own_pipeline(cls: type[Any]) -> bool:
    """Whether a `TokenizersBackend` subclass builds its own pipeline (an `__init__` below the base)."""
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    for klass in cls.__mro__:
        if klass is TokenizersBackend:
            return False
        if "__init__" in vars(klass):
            return True
    return False


def _scored_pieces(value: Any) -> Any:
    """A YAML list of [piece, score] pairs as the list of tuples a Unigram vocabulary is (classes
    look their special pieces up as tuples); any other value unchanged."""
    if isinstance(value, list) and value and all(
            isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and isinstance(v[1], int | float)
            for v in value):
        return [(piece, float(score)) for piece, score in value]
    return value


def _build_class(cls: type[Any], corpus: Sequence[str], vocab_size: int) -> tuple[Any, bool]:
    """A trained tokenizer of `cls` and whether its vocabulary is the class's own fixed one."""
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    knowledge = class_knowledge().get(cls.__name__, {})
    if knowledge.get("fallback"):
        raise TokenizerBuildError(f"tokenizers.yaml: {knowledge['reason']}")
    init: dict[str, Any] = {k: _scored_pieces(v) for k, v in (knowledge.get("init") or {}).items()}
    if cls is TokenizersBackend:
        return _generic_backend(corpus, vocab_size), False
    if issubclass(cls, TokenizersBackend):
        try:
            blank = cls(**init)
        except Exception as exc:  # any blank-construction error: fatal only for a class with its own pipeline
            if _own_pipeline(cls):
                raise TokenizerBuildError(f"{cls.__name__}() cannot be built blank: {type(exc).__name__}: {exc}") from exc
            # Only decoding tweaks over the base class: the generic pipeline keeps the class.
            return _generic_backend(corpus, vocab_size, cls), False
        # The Rust trainer sets up special tokens and post-processor ids (on a few lines: its
        # ties are not deterministic); the model itself is then trained deterministically.
        try:
            trained = train_with_panic_guard(blank.train_new_from_iterator, list(corpus[:PLUMBING_LINES]),
                                              vocab_size, show_progress=False)
        except ValueError:
            # `train_new_from_iterator` rebuilds the class from its init kwargs, which do not keep
            # the seed vocabulary (Pegasus then fails on its default one): the blank tokenizer,
            # special tokens and post-processor already in place, is retrained in place instead.
            trained = blank
        trained._tokenizer = retrain_model(trained._tokenizer, corpus, vocab_size)
        return trained, False
    # PythonBackend: byte/char-level classes work blank (fixed vocabulary); the rest need generated files.
    if not knowledge.get("files"):
        try:
            return cls(**init), True
        except TypeError:
            pass
    with tempfile.TemporaryDirectory() as tmp:
        files = _files_for(cls, corpus, vocab_size, Path(tmp))
        tok = cls(**files, **init)
        excess = len(tok) - vocab_size
        if excess > 0:
            # The class adds special tokens of its own beyond the files: make room for them.
            files = _files_for(cls, corpus, vocab_size - excess, Path(tmp))
            tok = cls(**files, **init)
        # Load everything into memory before the files disappear.
        with tempfile.TemporaryDirectory() as saved:
            tok.save_pretrained(saved)
            return cls.from_pretrained(saved), False


@dataclass(frozen=True)
class _Trained:
    """Where a trained tokenizer was saved, as which class, and how it was obtained."""

    path: str
    class_name: str  # the mapped class, or "TokenizersBackend" after a fallback
    fixed_vocab: bool  # the class's own vocabulary (byte/char-level), not trained to the target size
    fallback: str | None  # why the mapped class was replaced, if it was


def _short(exc: BaseException) -> str:
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first[:200]}"


_PROBE_TEXT = "The model reads a short sentence."


def encode_text(tokenizer: Any, text: str) -> list[Any]:
    """The token ids of `text`: document tokenizers (LayoutLMv2/v3, UDOP) take OCR words with
    one box each instead of a string, so they get the text's words and dummy boxes."""
    if "boxes" in inspect.signature(tokenizer.__call__).parameters:
        words = text.split()
        return tokenizer(words, boxes=[[0, 0, 10, 10]] * len(words))["input_ids"]
    return tokenizer(text)["input_ids"]


def _save_checked(tok: Any, cls: type[Any], vocab_size: int, fixed_vocab: bool) -> str:
    """Save `tok`, reload it as `cls` and check its size: a class failing here falls back too."""
    if not fixed_vocab and len(tok) > vocab_size:
        raise TokenizerBuildError(f"trained tokenizer has {len(tok)} tokens (> {vocab_size})")
    # A special token missing from a generated vocabulary encodes as None, not as an id.
    ids = encode_text(tok, _PROBE_TEXT)
    if not ids or not all(isinstance(i, int) for i in ids):
        raise TokenizerBuildError(f"encoding a sample gives ids {ids[:8]}")
    out = tempfile.mkdtemp(prefix=f"tinymodels-tok-{cls.__name__}-")
    tok.save_pretrained(out)
    cls.from_pretrained(out)
    return out


@functools.lru_cache(maxsize=64)
def _trained_dir(class_name: str, corpus_source: str, vocab_size: int) -> _Trained:
    """Train once per (class, corpus, vocab size) per process; keep the files on disk.

    Anything that goes wrong with the mapped class (the corpus is loaded before) is about the
    class, so the generic byte-level BPE is trained instead and the reason recorded.
    """
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    cls = _transformers_class(class_name)
    corpus = load_corpus(corpus_source)
    try:
        tok, fixed = _build_class(cls, corpus, vocab_size)
        return _Trained(_save_checked(tok, cls, vocab_size, fixed), class_name, fixed, None)
    except Exception as exc:  # noqa: BLE001 - any failure of the class itself means falling back
        reason = (f"{class_name} cannot be trained offline ({_short(exc)}); "
                  "the generic byte-level BPE TokenizersBackend was trained instead")
    log.warning("%s", reason)
    tok = _generic_backend(corpus, vocab_size)
    return _Trained(_save_checked(tok, TokenizersBackend, vocab_size, False), "TokenizersBackend", False, reason)


def train_tokenizer(class_name: str, corpus_source: str, vocab_size: int) -> Any:
    """A fresh tokenizer of `class_name` trained on the corpus (cached per process).

    On a fallback the tokenizer is a `TokenizersBackend` and `tokenizer.tinymodels_fallback`
    says why; it is None when the mapped class itself was trained.
    """
    import transformers

    trained = _trained_dir(class_name, corpus_source, vocab_size)
    tok = getattr(transformers, trained.class_name).from_pretrained(trained.path)
    # from_pretrained records loading options (local_files_only follows HF_HUB_OFFLINE) as init
    # kwargs, which save_pretrained would write: keep saved files independent of the environment.
    for key in ("local_files_only", "_from_auto", "trust_remote_code", "cache_dir", "token", "revision"):
        tok.init_kwargs.pop(key, None)
    # The configs get vocab_size = len(tokenizer): more tokens than asked would break the size budget.
    if not trained.fixed_vocab and len(tok) > vocab_size:
        raise TokenizerBuildError(f"{class_name}: trained tokenizer has {len(tok)} tokens (> {vocab_size})")
    tok.tinymodels_fallback = trained.fallback
    return tok


def default_tokenizer_class(model_type: str) -> str | None:
    """The tokenizer class of a model type: the auto mapping, else one defined in its package."""
    import importlib

    from tinymodels.config.discover import config_class, processor_classes

    mapped = processor_classes(model_type).tokenizer
    if mapped:
        return mapped
    package = config_class(model_type).__module__.rsplit(".", 1)[0]
    try:
        module = importlib.import_module(package)
    except ImportError:
        return None
    prefix = config_class(model_type).__name__.removesuffix("Config")
    for name in (f"{prefix}Tokenizer", f"{prefix}TokenizerFast"):
        if hasattr(module, name):
            return name
    return None
