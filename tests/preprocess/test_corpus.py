"""Corpus sources: built-in (offline, deterministic, broad coverage), local files, wikitext."""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest

from tinymodels.errors import CorpusError
from tinymodels.preprocess.corpus import builtin_corpus, load_corpus


def test_builtin_is_deterministic_and_broad() -> None:
    lines = builtin_corpus()
    assert lines == builtin_corpus() and len(lines) >= 1000
    text = "\n".join(lines)
    assert any(c.isdigit() for c in text)
    assert set("!?.,;:()'\"-") <= set(text)
    scripts = {unicodedata.name(c).split()[0] for c in text if not c.isascii() and c.isalpha()}
    assert {"LATIN", "GREEK", "CYRILLIC", "CJK", "ARABIC", "HEBREW", "DEVANAGARI", "HANGUL"} <= scripts


def test_txt_jsonl_parquet(tmp_path: Path) -> None:
    lines = [f"line number {i} with words" for i in range(20)]
    (tmp_path / "c.txt").write_text("\n".join(lines) + "\n\n")
    (tmp_path / "c.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in lines))
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": lines}), tmp_path / "c.parquet")
    for name in ("c.txt", "c.jsonl", "c.parquet"):
        assert list(load_corpus(str(tmp_path / name))) == lines


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.jsonl", '{"text": "ok"}\nnot json\n', "not valid JSON"),
        ("nofield.jsonl", '{"body": "x"}\n', "'text'"),
        ("short.txt", "one\ntwo\n", "at least 10"),
        ("data.csv", "a,b\n", "unsupported corpus format"),
    ],
)
def test_bad_files(tmp_path: Path, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(CorpusError, match=message):
        load_corpus(str(path))


def test_missing_path() -> None:
    with pytest.raises(CorpusError, match="neither"):
        load_corpus("/nonexistent/corpus.txt")


def test_wikitext_offline_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    load_corpus.cache_clear()
    with pytest.raises(CorpusError, match="--corpus builtin"):
        load_corpus("wikitext")


def test_custom_corpus_trains_tokenizer(tmp_path: Path) -> None:
    from tinymodels.preprocess.tokenization import train_tokenizer

    words = [f"alpha{i} beta{i % 7} gamma" for i in range(200)]
    path = tmp_path / "words.txt"
    path.write_text("\n".join(words))
    tok = train_tokenizer("BertTokenizer", str(path), 128)
    assert 0 < len(tok) <= 128
    assert "alpha" in tok.get_vocab() or "al" in "".join(tok.get_vocab())
