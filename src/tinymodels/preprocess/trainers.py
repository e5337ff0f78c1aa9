"""Deterministic training of a `tokenizers.Tokenizer` model (BPE, WordPiece, WordLevel, Unigram).

Determinism: the Rust trainers of `tokenizers` break ties (equal-count characters, merges,
words) in hash-map order, which changes from process to process. So every model is
trained here instead, with explicit tie-breaks (count, then text): BPE and WordPiece by
a small pure-Python BPE, WordLevel by sorted counts, Unigram by `sentencepiece` with one
thread (deterministic across processes). The Rust trainer still runs, on a few lines
only, because `train_new_from_iterator` sets up the special tokens, post-processor ids
and class kwargs; its model is then replaced by ours, special tokens keeping their ids.
"""

from __future__ import annotations

import heapq
import json
import re
import tempfile
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any


class TokenizerBuildError(RuntimeError):
    """No tokenizer could be trained for a class (the message says why)."""


def train_with_panic_guard(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """The tokenizers Rust trainer can panic (pyo3 PanicException is a BaseException)."""
    try:
        return fn(*args, **kwargs)
    except Exception:  # ordinary errors pass through untouched; only the panic below is translated
        raise
    except BaseException as exc:  # noqa: BLE001 - PanicException derives from BaseException
        if type(exc).__name__ == "PanicException":
            raise TokenizerBuildError(f"the tokenizers trainer panicked: {exc}") from None
        raise


# Lines given to the Rust trainer when only its plumbing (special tokens, post-processor) is used.
PLUMBING_LINES = 16
# Training-only word boundaries: before a space or a sentencepiece "▁" (see `_word_counts`).
_WORD_START = re.compile("(?=[ \u2581])")


def _word_counts(backend: Any, corpus: Sequence[str]) -> dict[str, int]:
    """Words as the tokenizer's own normalizer and pre-tokenizer split them, in first-seen order.

    Pipelines that keep whole lines as one "word" (sentencepiece-style Metaspace without
    split, or no pre-tokenizer) are cut before each space or "▁", as sentencepiece does when
    training: merges never cross words, and training stays fast.
    """
    counts: Counter[str] = Counter()
    normalizer, pre_tokenizer = backend.normalizer, backend.pre_tokenizer
    for line in corpus:
        text = normalizer.normalize_str(line) if normalizer is not None else line
        words = [text] if pre_tokenizer is None else [w for w, _ in pre_tokenizer.pre_tokenize_str(text)]
        for word in words:
            counts.update(_WORD_START.split(word))
    counts.pop("", None)
    return counts


def _train_bpe(words: dict[str, int], size: int, fixed: dict[str, int], alphabet: Sequence[str] = (),
               prefix: str = "", suffix: str = "") -> tuple[dict[str, int], list[tuple[str, str]]]:
    """BPE as the `tokenizers` trainer does it, but every tie broken by text: deterministic.

    `fixed` tokens (the special tokens) keep their ids; new tokens fill the free ids in order.
    Non-initial symbols carry `prefix` (WordPiece "##"), final ones `suffix` (CLIP "</w>").
    """
    vocab = dict(fixed)
    used = set(vocab.values())
    next_id = 0

    def add(token: str) -> None:
        nonlocal next_id
        if token in vocab:
            return
        while next_id in used:
            next_id += 1
        vocab[token] = next_id
        used.add(next_id)

    for ch in sorted(set(alphabet) | {c for w in words for c in w}):
        add(ch)
    seqs: list[list[str]] = []
    freqs: list[int] = []
    for word, n in words.items():
        last = len(word) - 1
        seqs.append([(prefix if i else "") + c + (suffix if i == last else "") for i, c in enumerate(word)])
        freqs.append(n)
    for sym in sorted({s for seq in seqs for s in seq}):
        add(sym)
    pairs: dict[tuple[str, str], int] = {}
    where: dict[tuple[str, str], set[int]] = {}
    for i, seq in enumerate(seqs):
        for pair in pairwise(seq):
            pairs[pair] = pairs.get(pair, 0) + freqs[i]
            where.setdefault(pair, set()).add(i)
    # Max-count first, then the smallest (left, right) text; stale entries are skipped on pop.
    heap = [(-count, a, b) for (a, b), count in pairs.items()]
    heapq.heapify(heap)
    merges: list[tuple[str, str]] = []
    while len(vocab) < size and heap:
        neg, a, b = heapq.heappop(heap)
        if neg == 0 or pairs.get((a, b), 0) != -neg:
            continue
        new = a + (b[len(prefix):] if prefix and b.startswith(prefix) else b)
        merges.append((a, b))
        add(new)
        touched: dict[tuple[str, str], None] = {}
        for i in sorted(where.pop((a, b), ())):
            seq, f = seqs[i], freqs[i]
            for pair in pairwise(seq):
                pairs[pair] -= f
                touched[pair] = None
            out: list[str] = []
            j = 0
            while j < len(seq):
                if j + 1 < len(seq) and seq[j] == a and seq[j + 1] == b:
                    out.append(new)
                    j += 2
                else:
                    out.append(seq[j])
                    j += 1
            seqs[i] = out
            for pair in pairwise(out):
                pairs[pair] = pairs.get(pair, 0) + f
                where.setdefault(pair, set()).add(i)
                touched[pair] = None
        pairs.pop((a, b), None)
        for pair in touched:
            if pairs.get(pair, 0) > 0:
                heapq.heappush(heap, (-pairs[pair], *pair))
    return vocab, merges


def _train_unigram(words: dict[str, int], n_pieces: int) -> list[tuple[str, float]]:
    """Unigram pieces and scores from sentencepiece fed the pre-tokenized words (one thread)."""
    import sentencepiece as spm

    with tempfile.TemporaryDirectory() as tmp:
        tsv = Path(tmp) / "words.tsv"
        rows = [f"{w}\t{n}" for w, n in words.items() if not any(ch in w for ch in "\t\n\r")]
        tsv.write_text("\n".join(rows) + "\n", encoding="utf-8")
        prefix = Path(tmp) / "unigram"
        # Words already carry the pipeline's normalization and word-boundary marks: keep them as is.
        spm.SentencePieceTrainer.train(
            input=str(tsv), input_format="tsv", model_prefix=str(prefix), vocab_size=max(n_pieces, 8),
            model_type="unigram", character_coverage=1.0, num_threads=1, shuffle_input_sentence=False,
            add_dummy_prefix=False, normalization_rule_name="identity", remove_extra_whitespaces=False,
            unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1, hard_vocab_limit=False, minloglevel=2,
        )
        sp = spm.SentencePieceProcessor(model_file=str(prefix.with_suffix(".model")))
        return [(sp.id_to_piece(i), sp.get_score(i)) for i in range(sp.get_piece_size()) if not sp.is_unknown(i)]


def _has_byte_level(node: Any) -> bool:
    if isinstance(node, dict):
        return node.get("type") == "ByteLevel" or any(_has_byte_level(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_byte_level(v) for v in node)
    return False


def retrain_model(backend: Any, corpus: Sequence[str], vocab_size: int) -> Any:
    """The same `tokenizers.Tokenizer` with its model trained deterministically on `corpus`.

    Tokens the model already holds that are also added tokens (the special tokens the
    trainer was given) keep their ids, so post-processor and added-token ids stay valid.
    The model gets `vocab_size` minus the added tokens outside it, so `len(tokenizer)`
    stays within `vocab_size`.
    """
    from tokenizers import Tokenizer, pre_tokenizers

    data = json.loads(backend.to_str())
    model = data["model"]
    kind = model["type"]
    added = {a["content"]: a["id"] for a in data["added_tokens"]}
    if kind == "Unigram":
        fixed = {piece: i for i, (piece, _) in enumerate(model["vocab"]) if piece in added}
    else:
        fixed = {tok: i for tok, i in model["vocab"].items() if tok in added}
    target = vocab_size - sum(1 for tok in added if tok not in fixed)
    words = _word_counts(backend, corpus)
    if kind in ("BPE", "WordPiece"):
        alphabet = pre_tokenizers.ByteLevel.alphabet() if _has_byte_level(data["pre_tokenizer"]) else []
        prefix = model.get("continuing_subword_prefix") or ""
        suffix = (model.get("end_of_word_suffix") or "") if kind == "BPE" else ""
        vocab, merges = _train_bpe(words, target, fixed, alphabet, prefix, suffix)
        model["vocab"] = vocab
        if kind == "BPE":
            model["merges"] = [list(m) for m in merges]
    elif kind == "WordLevel":
        vocab = dict(fixed)
        for word, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0])):
            if len(vocab) >= target:
                break
            vocab.setdefault(word, len(vocab))
        model["vocab"] = vocab
    elif kind == "Unigram":
        pieces = iter(p for p in _train_unigram(words, target - len(fixed) + 1) if p[0] not in fixed)
        by_id = {i: tok for tok, i in fixed.items()}
        vocab_list: list[list[Any]] = []
        for i in range(max(by_id, default=-1) + 1):
            piece = [by_id[i], 0.0] if i in by_id else list(next(pieces, ()))
            if not piece:
                raise TokenizerBuildError("the corpus is too small for the special-token ids of this Unigram model")
            vocab_list.append(piece)
        vocab_list.extend(list(p) for p in pieces)
        model["vocab"] = vocab_list
    else:
        raise TokenizerBuildError(f"cannot train a {kind} model deterministically")
    return Tokenizer.from_str(json.dumps(data))
