"""Text-model fidelity on real builds (issue #10): training steps, generation configs and
pipelines of text heads whose tiny checkpoints used to fail, each built with only the
architectures and levels the test reads (the file stays fast on 2 cores)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tinymodels.validate.levels import OK


def build(factory: pytest.TempPathFactory, model_type: str, archs: tuple[str, ...], levels: set[str]) -> dict[str, Any]:
    """A real in-process build of `archs` of `model_type` at `levels` (plus load): the type's
    report entry, with the output folder under "out"."""
    from tinymodels.build.builder import build_model_type, one_thread, quiet_libraries
    from tinymodels.config.discover import architecture_mappings
    from tinymodels.options import BuildOptions

    quiet_libraries()
    one_thread()
    out = factory.mktemp(model_type)
    skip = frozenset(a for a in architecture_mappings(model_type) if a not in archs)
    options = BuildOptions(skip=skip, validate=frozenset({"load", *levels}))
    entry = build_model_type(model_type, options, out)[1]
    assert set(entry["pytorch"]) == set(archs), entry
    return {**entry, "out": out}


def levels_of(entry: dict[str, Any], arch: str) -> dict[str, Any]:
    info = entry["pytorch"][arch]
    assert not info.get("error"), info.get("error")
    return info["levels"]


def test_gemma3n_trains_without_nan_gradients(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Gemma's tokenizer pads on the left; a training batch is padded on the right, so no all-zero
    # pad rows reach the unclamped RMS of the altup states (it gave NaN gradients).
    entry = build(tmp_path_factory, "gemma3n_text", ("Gemma3nForCausalLM",), {"train"})
    assert levels_of(entry, "Gemma3nForCausalLM")["train"] == OK


def test_training_batches_pad_on_the_right_and_restore_the_side() -> None:
    from tinymodels.preprocess.processors import Processors
    from tinymodels.preprocess.tokenization import train_tokenizer
    from tinymodels.validate.train import padded_batch

    tokenizer = train_tokenizer("GemmaTokenizer", "builtin", 1024)
    assert tokenizer.padding_side == "left"
    batch = padded_batch(Processors(tokenizer=tokenizer), text_only=True)
    mask = batch["attention_mask"]
    assert mask[0, 0] == 1 and mask[0, -1] == 0  # the short text is padded at its end
    assert tokenizer.padding_side == "left"


def test_unpadded_head_vocabulary_follows_the_tokenizer(tmp_path_factory: pytest.TempPathFactory) -> None:
    arch = "Inkling2LoopForConditionalGeneration"
    entry = build(tmp_path_factory, "inkling2_loop", (arch,), {"train"})
    assert levels_of(entry, arch)["train"] == OK
    config = json.loads((entry["out"] / arch / "config.json").read_text())
    text = config.get("text_config", config)
    assert text["unpadded_vocab_size"] == text["vocab_size"] == entry["vocab_size"]


def test_question_answering_and_fixed_length_heads_train(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Longformer finds the question by its three separators: its batch is (question, text) pairs
    # from the type's inputs.call data. Perceiver's MLM decoder predicts max_position_embeddings
    # positions: its batch and labels are padded to that length.
    qa = ("LongformerForQuestionAnswering", "LongformerForMultipleChoice")
    longformer = build(tmp_path_factory, "longformer", qa, {"train"})
    perceiver = build(tmp_path_factory, "perceiver", ("PerceiverForMaskedLM",), {"train"})
    for arch in qa:
        assert levels_of(longformer, arch)["train"] == OK
    assert levels_of(perceiver, "PerceiverForMaskedLM")["train"] == OK


def test_pegasus_tokenizer_ends_sequences_with_eos(tmp_path_factory: pytest.TempPathFactory) -> None:
    from transformers import AutoTokenizer

    arch = "BigBirdPegasusForSequenceClassification"
    entry = build(tmp_path_factory, "bigbird_pegasus", (arch,), {"forward"})
    assert levels_of(entry, arch)["forward"] == OK
    assert "warnings" not in entry or not any("cannot be trained" in w for w in entry["warnings"])
    assert entry["processor"] == {"PegasusTokenizer": "PegasusTokenizer"}
    tokenizer = AutoTokenizer.from_pretrained(entry["out"] / arch)
    assert tokenizer("Hello world")["input_ids"][-1] == tokenizer.eos_token_id


def test_bark_generates_with_its_sub_model_generation_configs(tmp_path_factory: pytest.TempPathFactory) -> None:
    entry = build(tmp_path_factory, "bark", ("BarkModel",), {"forward", "generate", "pipeline"})
    levels = levels_of(entry, "BarkModel")
    # No forward of its own: only the generating pipeline serves it.
    assert levels["generate"] == OK and levels["pipeline"] == {"text-to-audio": OK}
    gen = json.loads((entry["out"] / "BarkModel" / "generation_config.json").read_text())
    config = json.loads((entry["out"] / "BarkModel" / "config.json").read_text())
    semantic = config["semantic_config"]
    assert gen["semantic_config"]["text_encoding_offset"] == semantic["output_vocab_size"]
    assert gen["semantic_config"]["semantic_infer_token"] == semantic["input_vocab_size"] - 1
    assert gen["codebook_size"] == config["codec_config"]["codebook_size"]


def test_generation_stages_are_read_from_a_chained_generate() -> None:
    from transformers import BarkModel, LlamaForCausalLM

    from tinymodels.validate.forward import generation_stages
    from tinymodels.validate.pipelines import staged_budget

    bark = BarkModel.__new__(BarkModel)
    assert generation_stages(bark) == ["semantic_", "coarse_", "fine_"]
    assert staged_budget(bark, {"max_new_tokens": 4, "do_sample": False}) == {"semantic_max_new_tokens": 4,
                                                                              "do_sample": False}
    assert generation_stages(LlamaForCausalLM.__new__(LlamaForCausalLM)) == []


def test_draft_model_serves_no_generating_pipeline(tmp_path_factory: pytest.TempPathFactory) -> None:
    entry = build(tmp_path_factory, "gemma4_assistant", ("Gemma4AssistantForCausalLM",), {"forward", "pipeline"})
    assert "pipeline" not in levels_of(entry, "Gemma4AssistantForCausalLM")


def test_upstream_generate_skips_are_reported(tmp_path_factory: pytest.TempPathFactory) -> None:
    entry = build(tmp_path_factory, "roc_bert", ("RoCBertForCausalLM",), {"forward", "generate", "chat"})
    levels = levels_of(entry, "RoCBertForCausalLM")
    assert levels["forward"] == OK
    assert levels["generate"].startswith("skipped: ") and "upstream" in levels["generate"]
    assert levels["chat"].startswith("skipped: ")


def test_custom_generate_gets_the_global_generation_defaults(tmp_path_factory: pytest.TempPathFactory) -> None:
    # MusicGen's decoder reads num_return_sequences from its generation config as saved.
    entry = build(tmp_path_factory, "musicgen", ("MusicgenForCausalLM",), {"forward", "generate"})
    assert levels_of(entry, "MusicgenForCausalLM")["generate"] == OK
    gen = json.loads((Path(entry["out"]) / "MusicgenForCausalLM" / "generation_config.json").read_text())
    assert gen["num_return_sequences"] == 1
