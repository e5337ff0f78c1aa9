"""Audio and speech fidelity on real model types built end to end: codebook decoders keep the codec's
vocabulary, a model's own `generate` gets transformers' default generation parameters and the
family's generation-config tables (SeamlessM4T's language maps and `tgt_lang`), speech heads train
on their processor's batch (Cohere ASR's `language`, LASR's dropped audio mask, SeamlessM4T v2's
audio mask beside the text ids), TTS processors that render prompts only through their chat
template get conversations, and pipelines that cannot drive a model are reported as skipped."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import arch_errors, arch_levels, assert_all_validate, build_in_process

TYPES = ("musicgen", "kyutai_speech_to_text", "seamless_m4t_v2", "cohere_asr", "lasr_ctc", "gradium_phonon_tts",
         "voxtral")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "fid_audio", TYPES)


@pytest.mark.parametrize("model_type", TYPES[2:])
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_codebook_decoder_keeps_the_codec_vocabulary(built: dict[str, Any]) -> None:
    # Aligned to the text tokenizer, the decoder emitted codes the EnCodec codebook cannot decode.
    config = json.loads((built["out"] / "musicgen" / "MusicgenForConditionalGeneration" / "config.json").read_text())
    size = config["audio_encoder"]["codebook_size"]
    assert config["decoder"]["vocab_size"] == size
    assert config["text_encoder"]["vocab_size"] != size
    # The start/pad code is the embedding's extra row, which generate filters out of the codes.
    assert config["decoder"]["pad_token_id"] == config["decoder"]["bos_token_id"] == size
    assert config["decoder_start_token_id"] == config["pad_token_id"] == size
    assert arch_levels(built, "musicgen", "MusicgenForConditionalGeneration")["pipeline"] == {"text-to-audio": "ok"}


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


def test_speech_heads_train_on_their_processors_batch(built: dict[str, Any]) -> None:
    for model_type, arch in (("cohere_asr", "CohereAsrForConditionalGeneration"), ("lasr_ctc", "LasrForCTC"),
                             ("seamless_m4t_v2", "SeamlessM4Tv2ForSpeechToText")):
        assert arch_levels(built, model_type, arch)["train"] == "ok", (model_type, arch_errors(built[model_type]))


def test_tts_processor_renders_conversations_with_its_template(built: dict[str, Any]) -> None:
    from transformers import pipeline
    from transformers.utils.chat_template_utils import Chat

    folder = built["out"] / "gradium_phonon_tts" / "GradiumPhononTTSForConditionalGeneration"
    pipe = pipeline("text-to-audio", model=str(folder), device="cpu")
    conversation = [{"role": "user", "content": [{"type": "text", "text": "Hello world."}]}]
    inputs = pipe.preprocess(Chat(conversation), processor_kwargs={"return_tensors": "pt"})
    bos = pipe.processor.tokenizer.convert_tokens_to_ids(pipe.processor.audio_bos_token)
    assert inputs["input_ids"][0, -1].item() == bos
    # The pipeline itself then needs the codec the processor only references.
    level = arch_levels(built, "gradium_phonon_tts", "GradiumPhononTTSForConditionalGeneration")["pipeline"]
    assert "audio_tokenizer" in level["text-to-audio"]


def test_speech_recognition_pipeline_skips_audio_llms(built: dict[str, Any]) -> None:
    level = arch_levels(built, "voxtral", "VoxtralForConditionalGeneration")["pipeline"]
    assert level["automatic-speech-recognition"].startswith("skipped: the pipeline loads no processor")
    assert level["any-to-any"] == "ok"


def test_generate_and_any_to_any_get_the_waveform(built: dict[str, Any]) -> None:
    # Kyutai's forward reads synthesized codes; its generate encodes the processor's waveform itself.
    levels = arch_levels(built, "kyutai_speech_to_text", "KyutaiSpeechToTextForConditionalGeneration")
    assert levels["generate"] == "ok"
    assert levels["pipeline"]["any-to-any"] == "ok"


def test_audio_llm_prompts_carry_audio(built: dict[str, Any]) -> None:
    from transformers import pipeline

    from tinymodels.validate.pipeline_samples import SAMPLES, _Context

    # Voxtral's processor renders conversations (raw prompts with its placeholder are refused).
    pipe = pipeline("any-to-any", model=str(built["out"] / "voxtral" / "VoxtralForConditionalGeneration"), device="cpu")
    ctx = _Context(pipe)
    _, kwargs = SAMPLES["audio_prompts"](ctx)
    assert [[item["type"] for item in chat[0]["content"]] for chat in kwargs["text"]] == [["audio", "text"]] * 2
    # One second at the rate of the processor's own extractor.
    assert kwargs["text"][0][0]["content"][0]["audio"].shape == (pipe.processor.feature_extractor.sampling_rate,)
    # Without a template the processor would get the audio beside placeholder prompts.
    pipe.processor.chat_template = pipe.processor.tokenizer.chat_template = None
    _, kwargs = SAMPLES["audio_prompt"](ctx)
    assert set(kwargs) == {"audio", "text"} and isinstance(kwargs["text"], str)


def test_codebook_decoders_are_told_apart_from_code_and_text_decoders() -> None:
    from tinymodels.preprocess.align import codebook_decoders

    music = {"decoder": {"model_type": "musicgen_decoder", "num_codebooks": 4, "vocab_size": 2048}}
    depth = {"decoder": {"model_type": "x", "num_codebooks": 8, "audio_vocab_size": 2048, "vocab_size": 32000}}
    assert codebook_decoders(music) == [music["decoder"]]
    assert codebook_decoders(depth) == []
    assert codebook_decoders({"num_codebooks": 4, "vocab_size": 2048}) == []  # the top level is the text's
