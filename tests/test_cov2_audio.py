"""Audio coverage, second pass, on real model types built end to end: a feature extractor fed an
overridden waveform (`inputs.call: {audio: ...}` without a whole processor), a tokenizer given by
data to a type that registers none, codec-code ids synthesized in place of text ids, extractor
features sized to the model width, no text-id fallback for processors that take no text, and
decoder start ids batched like the encoder's input."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import arch_errors, assert_all_validate, build_in_process

TYPES = ("nemotron3_5_transcribe_audio", "fastspeech2_conformer_with_hifigan", "kyutai_speech_to_text")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "audio2", TYPES)


@pytest.mark.parametrize("model_type", TYPES[:2])
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_feature_extractor_gets_the_call_waveform(built: dict[str, Any]) -> None:
    # The default 1 s tone gives 101 frames, which the encoder (subsampling by 8) refuses.
    from transformers import AutoConfig, AutoFeatureExtractor

    from tinymodels.knowledge import override_for
    from tinymodels.preprocess.processors import Processors
    from tinymodels.preprocess.samples import sample_audio
    from tinymodels.validate.inputs import processor_inputs

    folder = built["out"] / "nemotron3_5_transcribe_audio" / "Nemotron3_5TranscribeAudioModel"
    factor = AutoConfig.from_pretrained(folder).subsampling_factor
    fe = AutoFeatureExtractor.from_pretrained(folder)
    assert fe([sample_audio()], sampling_rate=16_000, return_tensors="pt")["input_features"].shape[1] % factor
    call = override_for("nemotron3_5_transcribe_audio").inputs["call"]
    inputs = processor_inputs(Processors(feature_extractor=fe), None, call)
    assert inputs["input_features"].shape[1] % factor == 0


def test_codec_ids_replace_the_text_ids(built: dict[str, Any]) -> None:
    # The base model's forward runs on per-step text + codebook ids; the generating head still fails
    # because its generate needs the waveform, which validation does not pass it.
    assert "KyutaiSpeechToTextModel" not in arch_errors(built["kyutai_speech_to_text"])


def test_feature_size_follows_the_model_width() -> None:
    # Pop2Piano feeds its 512 mel bands straight in as d_model-wide embeddings.
    from transformers import BertConfig, Pop2PianoConfig

    from tinymodels.preprocess.feature_extractors import build_feature_extractor

    assert build_feature_extractor("Pop2PianoFeatureExtractor", Pop2PianoConfig(d_model=32)).feature_size == 32
    # A width that is not the extractor's default size says nothing about the features.
    assert build_feature_extractor("Pop2PianoFeatureExtractor", BertConfig(hidden_size=32)).feature_size == 512


def test_no_text_ids_for_processors_without_text() -> None:
    from transformers import Pop2PianoProcessor, WhisperProcessor

    from tinymodels.validate.inputs import _takes_text

    assert not _takes_text(object.__new__(Pop2PianoProcessor))
    assert _takes_text(object.__new__(WhisperProcessor))  # text via *args


def test_decoder_start_ids_follow_the_encoder_batch() -> None:
    from transformers import T5Config, T5ForConditionalGeneration

    from tinymodels.validate.forward import _decoder_inputs

    model = T5ForConditionalGeneration(T5Config(d_model=16, d_ff=16, num_layers=1, num_heads=2, d_kv=8,
                                                vocab_size=32))
    assert _decoder_inputs(model, 3)["decoder_input_ids"].shape == (3, 2)
