"""Realistic original checkpoints (tokenizer and processor files only) for `--tokenizer-source original`.

Each writer makes the files a Hub repo of that family holds, with settings that differ from
the blank build's, so a test can tell whether they were kept.
"""

from __future__ import annotations

import json
from pathlib import Path

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + "
    "(message['content'] if message['content'] is string else message['content'] | map(attribute='text') | join('')) "
    "+ '<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
GPT2_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
GPT2_PLAIN = ("<tool_call>", "</tool_call>")
GPT2_VOCAB = 30_000
VIT_MEAN = [0.485, 0.456, 0.406]
VIT_STD = [0.229, 0.224, 0.225]
_WORDS = ("the model reads a short sentence and writes another one about tiny checkpoints that "
          "load quickly in tests of libraries built on transformers with every tokenizer").split()


def write_gpt2(folder: Path) -> Path:
    """A ~30k-token byte-level BPE with a ChatML template, special and plain added tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    vocab = {ch: i for i, ch in enumerate(alphabet)}
    merges: list[tuple[str, str]] = []
    for left in alphabet:  # every pair of the alphabet, in a fixed order, until the vocabulary is full
        for right in alphabet:
            if len(vocab) >= GPT2_VOCAB - len(GPT2_SPECIALS) - len(GPT2_PLAIN):
                break
            vocab[left + right] = len(vocab)
            merges.append((left, right))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                   unk_token="<|endoftext|>", model_max_length=1024)
    fast.add_special_tokens({"additional_special_tokens": list(GPT2_SPECIALS[1:])})
    fast.add_tokens(list(GPT2_PLAIN))
    fast.chat_template = CHATML
    folder.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(folder)
    return folder


def write_bert(folder: Path) -> Path:
    """A lowercasing WordPiece vocabulary (vocab.txt only, as old BERT repos have)."""
    import string

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = list(string.ascii_lowercase + string.digits + string.punctuation)
    tokens = specials + chars + [f"##{c}" for c in chars] + sorted(set(_WORDS))
    tokens += [f"word{i}" for i in range(5000 - len(tokens))]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(tokens) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": True, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}))
    return folder


def write_albert(folder: Path) -> Path:
    """A sentencepiece Unigram model (spiece.model only), with ALBERT's special pieces."""
    import io

    import sentencepiece as spm

    from tinymodels.preprocess.corpus import load_corpus

    # The built-in corpus plus made-up words, so that the original is larger than the tiny target.
    syllables = ["ka", "lo", "mir", "tse", "vun", "dra", "pel", "qos", "hib", "zut", "nar", "wem"]
    made_up = [a + b + c + d for a in syllables for b in syllables for c in syllables for d in syllables]
    lines = list(load_corpus("builtin")) + [" ".join(made_up[i:i + 16]) for i in range(0, len(made_up), 16)]
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=model, vocab_size=3000, hard_vocab_limit=False,
                                   model_type="unigram", pad_id=0, unk_id=1, bos_id=2, eos_id=3,
                                   bos_piece="[CLS]", eos_piece="[SEP]", user_defined_symbols=["[MASK]"],
                                   num_threads=1, minloglevel=2)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "spiece.model").write_bytes(model.getvalue())
    (folder / "tokenizer_config.json").write_text(json.dumps(
        {"do_lower_case": True, "keep_accents": False, "model_max_length": 512, "tokenizer_class": "AlbertTokenizer"}))
    return folder


def write_vit(folder: Path) -> Path:
    """An image processor config with non-default mean/std, resampling and a 384 px size."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": 384, "width": 384},
        "resample": 3, "do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True,
        "image_mean": VIT_MEAN, "image_std": VIT_STD,
    }, indent=2))
    return folder


# Model type -> (the checkpoint its config class documents, writer).
ORIGINALS = {
    "gpt2": ("openai-community/gpt2", write_gpt2),
    "bert": ("google-bert/bert-base-uncased", write_bert),
    "albert": ("albert/albert-xxlarge-v2", write_albert),
    "vit": ("google/vit-base-patch16-224", write_vit),
}
