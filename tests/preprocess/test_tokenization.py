"""Tokenizers trained from blank: deterministic across processes, within the vocabulary size,
special tokens where `transformers` puts them, and reloadable with the same ids."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tinymodels.preprocess.corpus import load_corpus
from tinymodels.preprocess.tokenization import train_tokenizer

# One class per model kind whose `tokenizers` trainer breaks ties in hash-map order:
# WordPiece, BPE with an end-of-word suffix, Unigram; then file-based (PythonBackend /
# sentencepiece) classes whose vocabulary files tinymodels generates (RoCBert: plus side files
# from resources/tokenizers.yaml).
NON_DETERMINISTIC_UPSTREAM = ["BertTokenizer", "CLIPTokenizer", "T5Tokenizer"]
FILE_BASED = ["EsmTokenizer", "BertGenerationTokenizer", "RoCBertTokenizer"]

_DIGEST_SCRIPT = """
import hashlib, sys, tempfile
from pathlib import Path
from tinymodels.preprocess.tokenization import train_tokenizer
for name in sys.argv[1:]:
    out = Path(tempfile.mkdtemp())
    train_tokenizer(name, "builtin", 1024).save_pretrained(out)
    digest = hashlib.sha256()
    for path in sorted(out.iterdir()):
        digest.update(path.name.encode() + b"\\0" + path.read_bytes())
    print(name, digest.hexdigest())
"""


def _start_digests(names: list[str], hash_seed: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.Popen([sys.executable, "-c", _DIGEST_SCRIPT, *names], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


@pytest.mark.slow  # two processes train every listed tokenizer
def test_tokenizer_files_identical_across_processes() -> None:
    """Two processes (different hash seeds, fresh Rust hash-map seeds) write the same bytes."""
    names = NON_DETERMINISTIC_UPSTREAM + FILE_BASED
    procs = [_start_digests(names, seed) for seed in ("1", "2")]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-2000:]
        outputs.append(out)
    assert len(outputs[0].splitlines()) == len(names)
    assert outputs[0] == outputs[1]


@pytest.mark.parametrize("name", NON_DETERMINISTIC_UPSTREAM + FILE_BASED)
@pytest.mark.parametrize("vocab_size", [512, 1024])
def test_vocab_size_is_a_ceiling(name: str, vocab_size: int) -> None:
    tok = train_tokenizer(name, "builtin", vocab_size)
    assert len(tok) <= vocab_size
    # Every id the tokenizer can produce is inside the model's embedding table.
    assert max(tok.get_vocab().values()) < len(tok)


@pytest.mark.parametrize("name", NON_DETERMINISTIC_UPSTREAM)
def test_special_tokens_keep_the_ids_transformers_gives_them(name: str) -> None:
    """Same special-token ids as transformers' own `train_new_from_iterator`, and used by the post-processor."""
    import transformers

    reference = getattr(transformers, name)().train_new_from_iterator(load_corpus("builtin")[:100], 1024,
                                                                       show_progress=False)
    tok = train_tokenizer(name, "builtin", 1024)
    assert reference.all_special_tokens
    for token in reference.all_special_tokens:
        assert tok.convert_tokens_to_ids(token) == reference.convert_tokens_to_ids(token), token
    ids = tok("the model reads")["input_ids"]
    ref_ids = reference("the model reads")["input_ids"]
    special = set(reference.all_special_ids)
    assert [i for i in ids if i in special] == [i for i in ref_ids if i in special]
    assert tok.unk_token is None or tok.unk_token_id == reference.unk_token_id


@pytest.mark.parametrize("name", NON_DETERMINISTIC_UPSTREAM + FILE_BASED)
def test_roundtrip_through_auto_tokenizer(name: str, tmp_path: Path) -> None:
    import transformers

    tok = train_tokenizer(name, "builtin", 1024)
    tok.save_pretrained(tmp_path)
    back = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = "The model reads a short sentence. Le café est très chaud !"
    assert back(text)["input_ids"] == tok(text)["input_ids"]
    assert len(back) == len(tok)
    # Real subwords were learned, not just characters.
    assert len(tok.tokenize("the model reads")) < len("the model reads")


def test_bpe_merges_follow_the_blank_pipeline(tmp_path: Path) -> None:
    """CLIP keeps its byte-level alphabet and end-of-word suffix in the trained BPE."""
    tok = train_tokenizer("CLIPTokenizer", "builtin", 1024)
    tok.save_pretrained(tmp_path)
    model = json.loads((tmp_path / "tokenizer.json").read_text(encoding="utf-8"))["model"]
    assert model["end_of_word_suffix"] == "</w>"
    assert model["merges"] and any(token.endswith("</w>") for token in model["vocab"])
    assert all(chr(c) in model["vocab"] for c in range(ord("!"), ord("~") + 1))


@pytest.mark.parametrize("name", NON_DETERMINISTIC_UPSTREAM + FILE_BASED + ["ParakeetTokenizer", "MarkupLMTokenizer"])
def test_trainable_classes_keep_their_class(name: str) -> None:
    """The fallback is for classes that cannot be trained, never a shortcut for those that can."""
    tok = train_tokenizer(name, "builtin", 1024)
    assert type(tok).__name__ == name
    assert tok.tinymodels_fallback is None


def test_untrainable_class_falls_back_to_the_generic_backend(tmp_path: Path) -> None:
    """RoFormer's jieba pre-tokenizer is Python code the trainer cannot serialize: generic BPE, said so."""
    import transformers

    tok = train_tokenizer("RoFormerTokenizer", "builtin", 1024)
    assert type(tok).__name__ == "TokenizersBackend"
    assert "RoFormerTokenizer" in tok.tinymodels_fallback and "TokenizersBackend" in tok.tinymodels_fallback
    assert len(tok) <= 1024
    tok.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "tokenizer_config.json").read_text(encoding="utf-8"))
    assert config["tokenizer_class"] == "TokenizersBackend"
    back = transformers.AutoTokenizer.from_pretrained(tmp_path)
    text = "The model reads a short sentence."
    assert back(text)["input_ids"] == tok(text)["input_ids"]
    # The fallback reason is not a tokenizer setting: it must not reach the saved files.
    assert "tinymodels_fallback" not in (tmp_path / "tokenizer_config.json").read_text(encoding="utf-8")


@pytest.mark.slow  # Canine's tokenizer takes seconds to build
def test_char_level_class_keeps_its_fixed_vocabulary() -> None:
    """Canine reads code points: its vocabulary is the class's own, above the trained-size ceiling
    (slow to load: the reload through AutoTokenizer is left to the canine build)."""
    tok = train_tokenizer("CanineTokenizer", "builtin", 1024)
    assert type(tok).__name__ == "CanineTokenizer" and tok.tinymodels_fallback is None
    assert len(tok) > 1024
    assert tok("é")["input_ids"][1] == ord("é")


def test_class_default_tokens_join_the_generated_vocabulary() -> None:
    """CpmAnt looks its space and line tokens ("</_>", "</n>") up in vocab.txt: they are generated there."""
    tok = train_tokenizer("CpmAntTokenizer", "builtin", 1024)
    assert type(tok).__name__ == "CpmAntTokenizer" and tok.tinymodels_fallback is None
    # CpmAnt re-keys them as the space and newline characters once loaded.
    vocab = tok.get_vocab()
    assert " " in vocab and "\n" in vocab
    assert all(isinstance(i, int) for i in tok("the model reads")["input_ids"])


def test_tokenizer_knowledge_names_real_classes() -> None:
    import transformers

    from tinymodels.preprocess.tokenization import class_knowledge

    for name in class_knowledge():
        assert hasattr(transformers, name), name
