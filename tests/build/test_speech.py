"""Speech and audio generation metadata (`build.speech`, `generation.yaml`): Whisper's timestamp and
language tokens, SeamlessM4T's language maps, and Bark's sub-model generation configs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import arch_folder, arch_json, arch_levels, build_in_process, build_selected, levels_of
from tinymodels.validate.levels import OK

TYPES = ("whisper", "seamless_m4t_v2")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "speech", TYPES)


def test_whisper_carries_what_timestamps_and_languages_need(built: dict[str, Any]) -> None:
    import numpy as np
    from transformers import pipeline

    folder = arch_folder(built, "whisper", "WhisperForConditionalGeneration")
    gen = arch_json(built, "whisper", "WhisperForConditionalGeneration", "generation_config.json")
    config = arch_json(built, "whisper", "WhisperForConditionalGeneration", "config.json")
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


def test_seamless_generation_config_maps_the_target_language(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer, GenerationConfig

    folder = built["out"] / "seamless_m4t_v2" / "SeamlessM4Tv2ForTextToSpeech"
    gen = GenerationConfig.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert gen.text_decoder_lang_to_code_id == {"eng": tokenizer.convert_tokens_to_ids("__eng__")}
    assert tokenizer.convert_tokens_to_ids("__eng__") != tokenizer.unk_token_id
    assert set(gen.t2u_lang_code_to_id) == set(gen.vocoder_lang_code_to_id) == {"eng"}
    # v2 spells the text out as characters for its unit decoder.
    assert gen.id_to_text[str(tokenizer.convert_tokens_to_ids("__eng__"))] == "__eng__"
    assert max(gen.char_to_id.values()) < json.loads((folder / "config.json").read_text())["char_vocab_size"]
    assert arch_levels(built, "seamless_m4t_v2", "SeamlessM4Tv2ForTextToSpeech")["pipeline"] == {"text-to-audio": "ok"}


@pytest.mark.slow  # builds real models
def test_bark_generates_with_its_sub_model_generation_configs(tmp_path_factory: pytest.TempPathFactory) -> None:
    entry = build_selected(tmp_path_factory, "bark", ("BarkModel",), {"forward", "generate", "pipeline"})
    levels = levels_of(entry, "BarkModel")
    # No forward of its own: only the generating pipeline serves it.
    assert levels["generate"] == OK and levels["pipeline"] == {"text-to-audio": OK}
    gen = json.loads((entry["out"] / "BarkModel" / "generation_config.json").read_text())
    config = json.loads((entry["out"] / "BarkModel" / "config.json").read_text())
    semantic = config["semantic_config"]
    assert gen["semantic_config"]["text_encoding_offset"] == semantic["output_vocab_size"]
    assert gen["semantic_config"]["semantic_infer_token"] == semantic["input_vocab_size"] - 1
    assert gen["codebook_size"] == config["codec_config"]["codebook_size"]
