"""Audio coverage mechanisms, checked on real model types built end to end: mel bins read from
nested sub-configs, audio masks passed under the encoder's own names, media-only sub-models built
without a tokenizer, and per-architecture synthesized inputs (replacing a same-named processor
output only where the data says so)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import assert_all_validate, build_in_process
from tinymodels.preprocess.feature_extractors import build_feature_extractor

TYPES = ("canary", "gemma3n_audio", "voxtral_encoder", "speecht5")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "audio", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_feature_extractor_takes_mel_bins_from_a_nested_config(built: dict[str, Any]) -> None:
    # Canary's mel bins live in `encoder_config`; the Parakeet extractor defaults to 80.
    from transformers import AutoConfig, AutoFeatureExtractor, CanaryConfig

    folder = built["out"] / "canary" / "CanaryModel"
    config = AutoConfig.from_pretrained(folder)
    assert AutoFeatureExtractor.from_pretrained(folder).feature_size == config.encoder_config.num_mel_bins
    nested = CanaryConfig(encoder_config={"num_mel_bins": 64})
    assert build_feature_extractor("ParakeetFeatureExtractor", nested).feature_size == 64


def test_feature_extractor_keeps_its_size_without_an_audio_config() -> None:
    from transformers import BertConfig

    assert build_feature_extractor("ParakeetFeatureExtractor", BertConfig()).feature_size == 80


def test_media_only_sub_model_gets_no_tokenizer(built: dict[str, Any]) -> None:
    # A tokenizer's text attention_mask would reach the audio encoder as its audio mask.
    assert "TokenizersBackend" not in built["voxtral_encoder"]["processor"]
    assert not (built["out"] / "voxtral_encoder" / "VoxtralEncoder" / "tokenizer.json").exists()


def test_synthesized_inputs_apply_per_architecture() -> None:
    import torch
    from transformers import SpeechT5Config

    from tinymodels.knowledge import override_for
    from tinymodels.validate.synthesized import synthesized_inputs

    config = SpeechT5Config(hidden_size=16, num_mel_bins=10)
    spec = override_for("speecht5").inputs["synthesize"]
    # The list form holds one entry per architecture group: the text-to-speech decoder starts from
    # one zero mel frame, the pre-net-less base model reads hidden states.
    tts = next(e for e in spec["decoder_input_values"] if "SpeechT5ForTextToSpeech" in e["architectures"])
    base = next(e for e in spec["decoder_input_values"] if "SpeechT5Model" in e["architectures"])
    kwargs = {"input_ids": torch.ones(1, 5, dtype=torch.long)}
    assert synthesized_inputs(config, kwargs, {"d": tts})["d"].shape == (1, 1, 10)
    assert synthesized_inputs(config, kwargs, {"d": base})["d"].shape == (1, 4, 16)


def test_audio_encoder_gets_the_mask_inverted_under_its_own_name(built: dict[str, Any]) -> None:
    # Gemma 3n's parent calls its audio tower with `~input_features_mask` as `audio_mel_mask`.
    from transformers import AutoFeatureExtractor, AutoModel

    from tinymodels.preprocess.samples import sample_audio
    from tinymodels.validate.inputs import model_inputs

    folder = built["out"] / "gemma3n_audio" / "Gemma3nAudioEncoder"
    fe = AutoFeatureExtractor.from_pretrained(folder)
    inputs = dict(fe([sample_audio()], sampling_rate=16_000, return_tensors="pt"))
    kwargs = model_inputs(AutoModel.from_pretrained(folder), inputs, "Gemma3nAudioEncoder")
    assert kwargs["audio_mel"] is inputs["input_features"]
    assert (kwargs["audio_mel_mask"] == ~inputs["input_features_mask"].bool()).all()
