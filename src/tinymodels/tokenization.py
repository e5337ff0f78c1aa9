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
Byte/char-level classes that need no files are used as they are.
"""

from __future__ import annotations

import functools
import json
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tinymodels.corpus import load_corpus

SPECIALS_GENERIC = {"bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "pad_token": "<pad>"}


class TokenizerBuildError(RuntimeError):
    """No tokenizer could be trained for a class (the message says why)."""


def _transformers_class(name: str) -> type:
    import transformers

    cls = getattr(transformers, name, None)
    if cls is None:
        raise TokenizerBuildError(f"transformers has no tokenizer class {name!r}")
    return cls


def _train_with_panic_guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The tokenizers Rust trainer can panic (pyo3 PanicException is a BaseException)."""
    try:
        return fn(*args, **kwargs)
    except Exception:
        raise
    except BaseException as exc:  # noqa: BLE001 - PanicException derives from BaseException
        if type(exc).__name__ == "PanicException":
            raise TokenizerBuildError(f"the tokenizers trainer panicked: {exc}") from None
        raise


def _generic_backend(corpus: Sequence[str], vocab_size: int) -> Any:
    """A byte-level BPE wrapped as the generic `TokenizersBackend`."""
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
    _train_with_panic_guard(tok.train_from_iterator, corpus, trainer=trainer)
    return TokenizersBackend(tokenizer_object=tok, **SPECIALS_GENERIC)


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


def _files_for(cls: type, corpus: Sequence[str], vocab_size: int, workdir: Path) -> dict[str, str]:
    """Generate the vocabulary files a file-based tokenizer class asks for."""
    names: dict[str, str] = dict(getattr(cls, "vocab_files_names", {}) or {})
    kwargs: dict[str, str] = {}
    vocab_name = names.get("vocab_file", "")
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
    elif vocab_name.endswith(".txt"):
        from tokenizers import BertWordPieceTokenizer

        wp = BertWordPieceTokenizer(lowercase=False)
        _train_with_panic_guard(wp.train_from_iterator, corpus, vocab_size=vocab_size, show_progress=False)
        vocab_items = sorted(wp.get_vocab().items(), key=lambda kv: kv[1])
        (workdir / "vocab.txt").write_text("\n".join(t for t, _ in vocab_items) + "\n", encoding="utf-8")
        kwargs = {"vocab_file": str(workdir / "vocab.txt")}
    elif vocab_name.endswith(".model"):
        kwargs = {"vocab_file": str(_sentencepiece_model(corpus, vocab_size, workdir))}
    else:
        raise TokenizerBuildError(f"{cls.__name__} needs files {names} that tinymodels cannot generate yet")
    return kwargs


def _sentencepiece_model(corpus: Sequence[str], vocab_size: int, workdir: Path) -> Path:
    """Train a deterministic sentencepiece unigram model on the corpus."""
    import sentencepiece as spm

    text = workdir / "corpus.txt"
    text.write_text("\n".join(corpus) + "\n", encoding="utf-8")
    prefix = workdir / "spiece"
    spm.SentencePieceTrainer.train(
        input=str(text), model_prefix=str(prefix), vocab_size=vocab_size, model_type="unigram",
        character_coverage=1.0, num_threads=1, seed_sentencepiece_size=100_000, shuffle_input_sentence=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, hard_vocab_limit=False, minloglevel=2,
    )
    return prefix.with_suffix(".model")


def _build(class_name: str, corpus: Sequence[str], vocab_size: int) -> Any:
    from transformers.tokenization_utils_tokenizers import TokenizersBackend

    cls = _transformers_class(class_name)
    if cls is TokenizersBackend:
        return _generic_backend(corpus, vocab_size)
    if issubclass(cls, TokenizersBackend):
        try:
            blank = cls()
        except Exception as exc:
            raise TokenizerBuildError(f"{class_name}() cannot be built blank: {type(exc).__name__}: {exc}") from exc
        trained = _train_with_panic_guard(blank.train_new_from_iterator, corpus, vocab_size, show_progress=False)
        return trained
    # PythonBackend: byte/char-level classes work blank; the rest need generated files.
    try:
        return cls()
    except TypeError:
        pass
    with tempfile.TemporaryDirectory() as tmp:
        files = _files_for(cls, corpus, vocab_size, Path(tmp))
        tok = cls(**files)
        # Load everything into memory before the files disappear.
        with tempfile.TemporaryDirectory() as saved:
            tok.save_pretrained(saved)
            return cls.from_pretrained(saved)


@functools.lru_cache(maxsize=64)
def _trained_dir(class_name: str, corpus_source: str, vocab_size: int) -> str:
    """Train once per (class, corpus, vocab size) per process; keep the files on disk."""
    tok = _build(class_name, load_corpus(corpus_source), vocab_size)
    out = tempfile.mkdtemp(prefix=f"tinymodels-tok-{class_name}-")
    tok.save_pretrained(out)
    return out


def train_tokenizer(class_name: str, corpus_source: str, vocab_size: int) -> Any:
    """A fresh tokenizer of `class_name` trained on the corpus (cached per process)."""
    import transformers

    path = _trained_dir(class_name, corpus_source, vocab_size)
    cls = getattr(transformers, class_name)
    tok = cls.from_pretrained(path)
    if len(tok) > vocab_size + 16:
        raise TokenizerBuildError(f"{class_name}: trained tokenizer has {len(tok)} tokens (> {vocab_size})")
    return tok


def default_tokenizer_class(model_type: str) -> str | None:
    """The tokenizer class of a model type: the auto mapping, else one defined in its package."""
    import importlib

    from tinymodels.discover import config_class, processor_classes

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
