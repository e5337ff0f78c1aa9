"""Tokenizers trained from blank (`preprocess.tokenization`): document tokenizers that only encode words
with boxes, and a Pegasus tokenizer that ends its sequences with EOS."""

from __future__ import annotations

import pytest

from conftest import build_selected, levels_of
from tinymodels.options import BuildOptions
from tinymodels.validate.levels import OK


def test_document_tokenizers_train_and_are_sized_with_words_and_boxes() -> None:
    # LayoutLMv3's tokenizer encodes OCR words with boxes, never a plain string: probing it with
    # one used to force the generic fallback (and then the processor could not take boxes).
    from tinymodels.preprocess.align import tokenizer_vocab_size
    from tinymodels.preprocess.tokenization import encode_text, train_tokenizer

    options = BuildOptions()
    tok = train_tokenizer("LayoutLMv3Tokenizer", options.corpus, options.vocab_size)
    assert type(tok).__name__ == "LayoutLMv3Tokenizer"
    assert tok.tinymodels_fallback is None
    ids = encode_text(tok, "Hello tiny world")
    assert ids and all(isinstance(i, int) for i in ids)
    assert tokenizer_vocab_size(tok) >= max(ids) + 1


@pytest.mark.slow  # builds real models
def test_pegasus_tokenizer_ends_sequences_with_eos(tmp_path_factory: pytest.TempPathFactory) -> None:
    from transformers import AutoTokenizer

    arch = "BigBirdPegasusForSequenceClassification"
    entry = build_selected(tmp_path_factory, "bigbird_pegasus", (arch,), {"forward"})
    assert levels_of(entry, arch)["forward"] == OK
    assert "warnings" not in entry or not any("cannot be trained" in w for w in entry["warnings"])
    assert entry["processor"] == {"PegasusTokenizer": "PegasusTokenizer"}
    tokenizer = AutoTokenizer.from_pretrained(entry["out"] / arch)
    assert tokenizer("Hello world")["input_ids"][-1] == tokenizer.eos_token_id
