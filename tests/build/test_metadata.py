"""The metadata real checkpoints carry (`build.metadata`): pad tokens for decoder classifiers,
`model_max_length` from the position table, mask tokens for masked-LM heads, and generation configs
(pad id, the EOS a config leaves unset, the global defaults a model's own `generate` skips)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import arch_folder, arch_json, arch_levels, build_in_process, build_selected, levels_of
from tinymodels.validate.levels import OK

TYPES = ("gpt2", "llama", "roberta", "modernbert", "musicgen", "qwen3", "qwen3_vl")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "metadata", TYPES)


def test_decoder_classifier_pads_with_eos_and_trains_on_a_padded_batch(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    for model_type, arch in (("gpt2", "GPT2ForSequenceClassification"), ("llama", "LlamaForSequenceClassification")):
        config = arch_json(built, model_type, arch, "config.json")
        tokenizer = AutoTokenizer.from_pretrained(arch_folder(built, model_type, arch))
        assert tokenizer.pad_token == tokenizer.eos_token
        assert config["pad_token_id"] == tokenizer.pad_token_id
        levels = built[model_type]["pytorch"][arch]["levels"]
        # zero-shot classification batches text pairs: it needs the pad id the config now has.
        assert levels["pipeline"] == {"text-classification": "ok", "zero-shot-classification": "ok"}
        assert levels["train"] == "ok"
    assert any("pad token" in w for w in built["gpt2"]["warnings"])


def test_model_max_length_follows_the_position_table(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer
    from transformers.tokenization_utils_base import VERY_LARGE_INTEGER

    gpt2 = AutoTokenizer.from_pretrained(arch_folder(built, "gpt2", "GPT2Model"))
    assert gpt2.model_max_length == arch_json(built, "gpt2", "GPT2Model", "config.json")["n_positions"]
    # RoPE models have no table to outgrow: unset, as real checkpoints of the family.
    assert AutoTokenizer.from_pretrained(arch_folder(built, "llama", "LlamaModel")).model_max_length == VERY_LARGE_INTEGER
    # RoBERTa numbers positions after the padding index: its table holds pad_token_id + 1 fewer tokens.
    config = arch_json(built, "roberta", "RobertaModel", "config.json")
    roberta = AutoTokenizer.from_pretrained(arch_folder(built, "roberta", "RobertaModel"))
    assert roberta.model_max_length == config["max_position_embeddings"] - config["pad_token_id"] - 1


def test_generation_config_carries_the_pad_id(built: dict[str, Any]) -> None:
    gen = arch_json(built, "llama", "LlamaForCausalLM", "generation_config.json")
    config = arch_json(built, "llama", "LlamaForCausalLM", "config.json")
    assert gen["pad_token_id"] == config["pad_token_id"] is not None
    assert gen["eos_token_id"][0] == config["eos_token_id"]  # then Llama 3's <|eot_id|>


def test_config_names_the_tokenizers_eos_where_the_defaults_leave_it_unset(built: dict[str, Any]) -> None:
    """Qwen3Config defaults bos/eos to None; a real checkpoint names its tokenizer's, and generate
    stops at the EOS its generation config takes from there."""
    from transformers import AutoTokenizer, GenerationConfig

    folder = arch_folder(built, "qwen3", "Qwen3ForCausalLM")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = arch_json(built, "qwen3", "Qwen3ForCausalLM", "config.json")
    assert tokenizer.eos_token_id is not None
    assert config["eos_token_id"] == tokenizer.eos_token_id
    assert config["bos_token_id"] == tokenizer.bos_token_id  # none in Qwen's tokenizer: stays None
    assert GenerationConfig.from_pretrained(folder).eos_token_id[0] == tokenizer.eos_token_id
    assert built["qwen3"]["pytorch"]["Qwen3ForCausalLM"]["levels"]["generate"] == OK


def test_a_chat_reply_stops_at_the_templates_turn_end(built: dict[str, Any]) -> None:
    """The token the chat template closes an assistant turn with joins the generation config's EOS
    ids, as in instruct checkpoints: generate stops on it (the bias makes it the first token)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = arch_folder(built, "qwen3", "Qwen3ForCausalLM")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    turn_end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert model.generation_config.eos_token_id == [tokenizer.eos_token_id, turn_end]
    inputs = tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}], add_generation_prompt=True,
                                           return_dict=True, return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=10, do_sample=False, sequence_bias={(turn_end,): 100.0})
    assert out[0, inputs["input_ids"].shape[1]:].tolist() == [turn_end]
    # Qwen3-VL's text config has no EOS field at all: the tokenizer's EOS still stops a reply.
    folder = arch_folder(built, "qwen3_vl", "Qwen3VLForConditionalGeneration")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    gen = arch_json(built, "qwen3_vl", "Qwen3VLForConditionalGeneration", "generation_config.json")
    assert gen["eos_token_id"] == [tokenizer.eos_token_id, tokenizer.convert_tokens_to_ids("<|im_end|>")]
    # MusicGen's decoder emits codec codes: no text token stops it.
    assert "eos_token_id" not in arch_json(built, "musicgen", "MusicgenForConditionalGeneration",
                                           "generation_config.json")
    # A template that ends turns with the EOS itself adds nothing (GPT-2's generic format).
    gen = arch_json(built, "gpt2", "GPT2LMHeadModel", "generation_config.json")
    assert gen["eos_token_id"] == arch_json(built, "gpt2", "GPT2LMHeadModel", "config.json")["eos_token_id"]


def test_masked_lm_heads_get_a_mask_token(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(arch_folder(built, "modernbert", "ModernBertForMaskedLM"))
    assert tokenizer.mask_token is not None
    assert built["modernbert"]["pytorch"]["ModernBertForMaskedLM"]["levels"]["pipeline"] == {"fill-mask": "ok"}
    assert any("mask token" in w for w in built["modernbert"]["warnings"])


def test_own_generate_gets_the_default_generation_parameters(built: dict[str, Any]) -> None:
    from transformers import (
        GPT2LMHeadModel,
        MusicgenDecoderConfig,
        MusicgenForCausalLM,
        MusicgenForConditionalGeneration,
    )

    from tinymodels.build.metadata import complete_generation_config, own_generate_skips_defaults

    assert own_generate_skips_defaults(MusicgenForCausalLM)
    assert not own_generate_skips_defaults(MusicgenForConditionalGeneration)  # merges them itself
    assert not own_generate_skips_defaults(GPT2LMHeadModel)
    config = json.loads((built["out"] / "musicgen" / "MusicgenForConditionalGeneration" / "config.json").read_text())
    model = MusicgenForCausalLM(MusicgenDecoderConfig(**config["decoder"]))
    assert model.generation_config.num_return_sequences is None  # what its generate expanded by
    complete_generation_config(model, None)
    assert model.generation_config.num_return_sequences == 1
    assert not model.generation_config._from_model_config  # saved as generation_config.json
    levels = arch_levels(built, "musicgen", "MusicgenForCausalLM")
    assert levels["generate"] == "ok"
    assert levels["pipeline"]["text-generation"].startswith("skipped: ")


@pytest.mark.slow  # builds real models
def test_custom_generate_gets_the_global_generation_defaults(tmp_path_factory: pytest.TempPathFactory) -> None:
    # MusicGen's decoder reads num_return_sequences from its generation config as saved.
    entry = build_selected(tmp_path_factory, "musicgen", ("MusicgenForCausalLM",), {"forward", "generate"})
    assert levels_of(entry, "MusicgenForCausalLM")["generate"] == OK
    gen = json.loads((Path(entry["out"]) / "MusicgenForCausalLM" / "generation_config.json").read_text())
    assert gen["num_return_sequences"] == 1
