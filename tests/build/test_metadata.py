"""Fidelity on real builds: the metadata real checkpoints carry (pad ids, length limits, chat
templates, generation config) and the validation levels users exercise (pipelines with padded
batches, chat rounds, a training step), recorded per architecture."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import arch_errors, build_in_process, run_cli
from tinymodels.errors import UsageError
from tinymodels.validate.levels import ALL, LevelError, parse_levels

TYPES = ("gpt2", "llama", "qwen2", "roberta", "llava", "whisper", "modernbert", "marian")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "fidelity", TYPES)


def _folder(built: dict[str, Any], model_type: str, arch: str) -> Path:
    return built["out"] / model_type / arch


def _json(built: dict[str, Any], model_type: str, arch: str, name: str) -> dict[str, Any]:
    return json.loads((_folder(built, model_type, arch) / name).read_text())


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_passes_every_level(built: dict[str, Any], model_type: str) -> None:
    assert arch_errors(built[model_type]) == {}
    for arch, info in built[model_type]["pytorch"].items():
        assert info["levels"]["load"] == "ok", arch
        assert info["levels"]["forward"] == "ok", arch


def test_decoder_classifier_pads_with_eos_and_trains_on_a_padded_batch(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    for model_type, arch in (("gpt2", "GPT2ForSequenceClassification"), ("llama", "LlamaForSequenceClassification")):
        config = _json(built, model_type, arch, "config.json")
        tokenizer = AutoTokenizer.from_pretrained(_folder(built, model_type, arch))
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

    gpt2 = AutoTokenizer.from_pretrained(_folder(built, "gpt2", "GPT2Model"))
    assert gpt2.model_max_length == _json(built, "gpt2", "GPT2Model", "config.json")["n_positions"]
    # RoPE models have no table to outgrow: unset, as real checkpoints of the family.
    assert AutoTokenizer.from_pretrained(_folder(built, "llama", "LlamaModel")).model_max_length == VERY_LARGE_INTEGER
    # RoBERTa numbers positions after the padding index: its table holds pad_token_id + 1 fewer tokens.
    config = _json(built, "roberta", "RobertaModel", "config.json")
    roberta = AutoTokenizer.from_pretrained(_folder(built, "roberta", "RobertaModel"))
    assert roberta.model_max_length == config["max_position_embeddings"] - config["pad_token_id"] - 1


def test_chat_template_uses_the_family_format_and_known_tokens(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    folder = _folder(built, "qwen2", "Qwen2ForCausalLM")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    messages = [{"role": "user", "content": "Hi"}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    ids = tokenizer.convert_tokens_to_ids(["<|im_start|>", "<|im_end|>"])
    vocab = _json(built, "qwen2", "Qwen2ForCausalLM", "config.json")["vocab_size"]
    assert all(tokenizer.unk_token_id != i < vocab for i in ids)
    assert built["qwen2"]["chat_template"] == "chatml"
    assert built["gpt2"]["chat_template"] == "generic"
    # RoBERTa has a causal LM head too (RobertaForCausalLM): the generic role-tag format.
    assert built["roberta"]["chat_template"] == "generic"
    assert (folder / "chat_template.jinja").is_file()


def test_vlm_chat_round_renders_the_processors_image_placeholder(built: dict[str, Any]) -> None:
    from transformers import AutoProcessor

    from tinymodels.validate.chat import sample_messages

    arch = "LlavaForConditionalGeneration"
    assert built["llava"]["pytorch"][arch]["levels"]["chat"] == "ok"
    processor = AutoProcessor.from_pretrained(_folder(built, "llava", arch))
    text = processor.apply_chat_template(sample_messages(("image",)), add_generation_prompt=True, tokenize=False)
    assert text.count(processor.image_token) == 1


def test_failed_level_names_the_task_and_keeps_what_passed(built: dict[str, Any]) -> None:
    from tinymodels.validate.pipelines import run_pipelines, task_specs

    # GPT-2 has no mask token: fill-mask cannot run on it, and says so.
    done: dict[str, str] = {}
    specs = task_specs()
    tasks = {"feature-extraction": specs["feature-extraction"], "fill-mask": specs["fill-mask"]}
    with pytest.raises(LevelError) as caught:
        run_pipelines(_folder(built, "gpt2", "GPT2Model"), tasks, {}, done)
    assert caught.value.level == "pipeline" and caught.value.detail == "fill-mask"
    assert "mask_token" in str(caught.value)
    assert done == {"feature-extraction": "ok", "fill-mask": "failed"}


def test_generation_config_carries_the_pad_id(built: dict[str, Any]) -> None:
    gen = _json(built, "llama", "LlamaForCausalLM", "generation_config.json")
    config = _json(built, "llama", "LlamaForCausalLM", "config.json")
    assert gen["pad_token_id"] == config["pad_token_id"] is not None
    assert gen["eos_token_id"] == config["eos_token_id"]


def test_parse_levels() -> None:
    assert parse_levels("all") == ALL
    assert parse_levels("forward") == {"load", "forward"}
    assert parse_levels("forward, train") == {"load", "forward", "train"}
    with pytest.raises(UsageError, match="did you mean 'pipeline'"):
        parse_levels("pipelines")
    with pytest.raises(UsageError):
        parse_levels(",")


@pytest.mark.slow  # a real gpt2 build through the CLI
def test_validate_flag_on_the_cli(tmp_path: Path) -> None:
    bad = run_cli("build", "bert", "--validate", "forwrd", "-o", str(tmp_path / "bad"))
    assert bad.returncode == 2 and "did you mean 'forward'" in bad.stderr
    assert not (tmp_path / "bad").exists()
    out = tmp_path / "quick"
    proc = run_cli("build", "gpt2", "--validate", "forward", "-o", str(out), "-j", "0")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads((out / "reports" / "tiny_model_creation_report.json").read_text())
    levels = {a: i["levels"] for a, i in report["GPT2Config"]["pytorch"].items()}
    assert levels and all(v == {"load": "ok", "forward": "ok"} for v in levels.values())


def test_whisper_carries_what_timestamps_and_languages_need(built: dict[str, Any]) -> None:
    import numpy as np
    from transformers import pipeline

    folder = _folder(built, "whisper", "WhisperForConditionalGeneration")
    gen = _json(built, "whisper", "WhisperForConditionalGeneration", "generation_config.json")
    config = _json(built, "whisper", "WhisperForConditionalGeneration", "config.json")
    asr = pipeline("automatic-speech-recognition", model=str(folder), device="cpu")
    tokenizer = asr.tokenizer
    assert gen["no_timestamps_token_id"] == tokenizer.convert_tokens_to_ids("<|notimestamps|>")
    # The tokenizer reads every id after its last special token as a timestamp; all of them decode.
    assert tokenizer.all_special_ids[-1] == gen["no_timestamps_token_id"] < config["vocab_size"] == len(tokenizer)
    assert config["decoder_start_token_id"] == tokenizer.convert_tokens_to_ids("<|startoftranscript|>")
    assert set(gen["lang_to_id"]) >= {"<|en|>"} and set(gen["task_to_id"]) == {"translate", "transcribe"}
    audio = np.zeros(34_000, dtype=np.float32)
    result = asr(audio, return_timestamps=True, generate_kwargs={"max_new_tokens": 8})
    assert len(result["chunks"]) >= 1
    assert "text" in asr(audio, generate_kwargs={"language": "en", "task": "transcribe", "max_new_tokens": 4})


def test_masked_lm_heads_get_a_mask_token(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(_folder(built, "modernbert", "ModernBertForMaskedLM"))
    assert tokenizer.mask_token is not None
    assert built["modernbert"]["pytorch"]["ModernBertForMaskedLM"]["levels"]["pipeline"] == {"fill-mask": "ok"}
    assert any("mask token" in w for w in built["modernbert"]["warnings"])


def test_marian_decoder_vocabulary_is_the_tokenizers(built: dict[str, Any]) -> None:
    # A larger decoder vocabulary let generate emit ids the tokenizer cannot decode.
    config = _json(built, "marian", "MarianMTModel", "config.json")
    assert config["decoder_vocab_size"] == config["vocab_size"]
    assert built["marian"]["pytorch"]["MarianMTModel"]["levels"]["train"] == "ok"


def test_level_counts_sum_the_report(built: dict[str, Any]) -> None:
    from tinymodels.ci.coverage import level_counts, levels_table

    report = {t: built[t] for t in TYPES}
    counts = level_counts(report)
    archs = sum(len(built[t]["pytorch"]) for t in TYPES)
    assert counts["load"]["ok"] == archs and counts["load"]["failed"] == 0
    tasks = sum(len(i["levels"].get("pipeline", {})) for t in TYPES for i in built[t]["pytorch"].values())
    assert counts["pipeline"]["ok"] + counts["pipeline"]["skipped"] == tasks
    assert any(row.startswith("| train |") for row in levels_table(report))


def test_skipped_levels_are_reported_with_their_reason(tmp_path_factory: pytest.TempPathFactory) -> None:
    from tinymodels.knowledge import override_for

    reason = override_for("reformer").skip_levels["train"]
    entry = build_in_process(tmp_path_factory, "skips", ["reformer"])["reformer"]
    assert arch_errors(entry) == {}
    assert entry["pytorch"]["ReformerForMaskedLM"]["levels"]["train"] == f"skipped: {reason}"


def test_model_card_states_the_levels_passed(built: dict[str, Any]) -> None:
    from tinymodels.hub.modelcard import model_card

    arch = "GPT2ForSequenceClassification"
    entry = built["gpt2"]
    card = model_card(_folder(built, "gpt2", arch), "org/tiny-random-" + arch, arch, entry["pytorch"][arch], entry)
    assert "| Validated | load, forward, pipeline (text-classification, zero-shot-classification), train |" in card
    assert "| Chat template | generic format |" in card
