"""Tokenizer training text: a built-in offline corpus, wikitext, or a local file.

The built-in corpus is generated from the project's own word lists with a fixed
seed, so it is identical on every machine and needs no download. It covers what
tokenizers meet in tests: ASCII words, punctuation, digits, accented Latin letters
and a few non-Latin scripts.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Final

from tinymodels.errors import CorpusError

_SUBJECTS: Final = (
    "the model", "a tiny network", "our tokenizer", "the test suite", "every pipeline", "this checkpoint",
    "a small robot", "the weather station", "my neighbour", "the old library", "a curious student",
    "the train to the coast", "an orange cat", "the city council", "a quiet river", "the research team",
)
_VERBS: Final = (
    "reads", "writes", "builds", "checks", "loads", "saves", "predicts", "describes", "measures", "counts",
    "translates", "summarizes", "classifies", "generates", "compares", "finds", "repairs", "visits",
)
_OBJECTS: Final = (
    "a short sentence", "the next token", "three pictures of mountains", "an audio clip of rain",
    "twelve numbers", "the answer to a question", "a list of names", "the capital of France",
    "a recipe for bread", "the score of the match", "two hundred words", "a map of the island",
    "the meaning of life", "a small video of birds", "the label of each image", "a hidden message",
)
_ENDINGS: Final = (
    "before lunch", "in the morning", "at 7:45 pm", "on 2024-03-15", "for 3.5 seconds", "without errors",
    "with great care", "(twice)", "- quickly!", "again and again", "in under 10 ms", "at 99% accuracy",
)
_MULTILINGUAL: Final = (
    "Le café est très chaud, n'est-ce pas ? Où est la gare ?",
    "El niño comió una manzana y dijo: ¡qué rica! Mañana será otro día.",
    "Die Straße ist nass; über den Bäumen fliegen Vögel. Schön!",
    "Ela não sabe se a ação começa às três horas.",
    "Příliš žluťoučký kůň úpěl ďábelské ódy.",
    "Zażółć gęślą jaźń, mówi ktoś w Łodzi.",
    "Καλημέρα κόσμε, τι κάνεις σήμερα;",
    "Привет, мир! Как дела? Всё хорошо.",
    "こんにちは、世界。今日はいい天気ですね。",
    "你好，世界。我们今天学习新的模型。",
    "안녕하세요 세계, 오늘은 좋은 날입니다.",
    "مرحبا بالعالم، كيف حالك اليوم؟",
    "नमस्ते दुनिया, आज मौसम अच्छा है।",
    "שלום עולם, מה שלומך היום?",
    "สวัสดีชาวโลก วันนี้อากาศดี",
    "Türkçe: çalışkan öğrenciler şimdi ölçüyor.",
    "Việt Nam có nhiều món ăn ngon như phở.",
)
_SYMBOLS: Final = (
    "Prices: $12.99, €8.50, £3, ¥1200; 50% off! #sale @store",
    "Math: 2 + 2 = 4, 3 * 7 = 21, 10 / 4 = 2.5, x^2 - 1 < 0, a <= b >= c",
    "Code: def f(x): return {'a': [1, 2, 3]} | ~mask & flags; path/to/file.txt",
    "Quotes: \"double\", 'single', `backtick`, «guillemets», “curly” and ‘curly’ — dash… ellipsis",
    "Emoji: 😀 🚀 ✅ ❤️ 🐍 and symbols © ® ™ ° ± × ÷ µ",
    "Digits: 0 1 2 3 4 5 6 7 8 9 10 42 100 1000 2048 65536 3.14159 -17",
)

BUILTIN_LINES: Final[int] = 3000
WIKITEXT: Final[tuple[str, str]] = ("Salesforce/wikitext", "wikitext-2-raw-v1")


def builtin_corpus(n_lines: int = BUILTIN_LINES, seed: int = 0) -> list[str]:
    """Generate the default corpus: deterministic for a given (n_lines, seed)."""
    rng = random.Random(seed)
    lines: list[str] = list(_MULTILINGUAL) + list(_SYMBOLS)
    while len(lines) < n_lines:
        sentence = f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)} {rng.choice(_ENDINGS)}"
        if rng.random() < 0.5:
            sentence = sentence[0].upper() + sentence[1:] + rng.choice((".", "!", "?", ";", "..."))
        if rng.random() < 0.15:
            sentence += " " + rng.choice(_MULTILINGUAL)
        if rng.random() < 0.1:
            sentence += f" ({rng.randint(0, 10_000)})"
        lines.append(sentence)
    return lines


def _load_file(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    if suffix == ".txt":
        return path.read_text(encoding="utf-8").splitlines()
    if suffix == ".jsonl":
        out: list[str] = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CorpusError(f"{path}:{n}: not valid JSON ({exc.msg})") from exc
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                raise CorpusError(f"{path}:{n}: each JSON line needs a string field 'text'")
            out.append(record["text"])
        return out
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        if "text" not in table.column_names:
            raise CorpusError(f"{path}: a parquet corpus needs a 'text' column (has {table.column_names})")
        return [t for t in table.column("text").to_pylist() if isinstance(t, str)]
    raise CorpusError(f"{path}: unsupported corpus format {suffix!r}; use .txt, .jsonl or .parquet")


def _load_wikitext() -> list[str]:
    try:
        from datasets import load_dataset

        ds = load_dataset(*WIKITEXT, split="train")
    except Exception as exc:  # datasets raises many types for "offline and not cached"
        raise CorpusError(
            f"could not load {WIKITEXT[0]}/{WIKITEXT[1]} ({type(exc).__name__}: {exc}). It needs the Hub "
            "or a local datasets cache; use the default '--corpus builtin' to build offline."
        ) from exc
    return list(ds["text"])


@functools.lru_cache(maxsize=4)
def load_corpus(source: str) -> tuple[str, ...]:
    """Return the non-empty lines of a corpus source ('builtin', 'wikitext' or a path).

    Cached per process: workers load their corpus once.
    """
    if source == "builtin":
        lines = builtin_corpus()
    elif source == "wikitext":
        lines = _load_wikitext()
    else:
        path = Path(source)
        if not path.is_file():
            raise CorpusError(f"corpus {source!r} is neither 'builtin', 'wikitext' nor an existing file")
        lines = _load_file(path)
    lines = [line.strip() for line in lines if line and line.strip()]
    if len(lines) < 10:
        raise CorpusError(f"corpus {source!r} has only {len(lines)} non-empty lines; at least 10 are needed")
    return tuple(lines)


def corpus_id(source: str) -> str:
    """A stable identity for fingerprints: content hash of the corpus."""
    import hashlib

    h = hashlib.sha256()
    for line in load_corpus(source):
        h.update(line.encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()[:16]
