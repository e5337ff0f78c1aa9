"""The inputs a forward pass gets (`validate.forward`): processor call data, synthesized inputs (time
series, masks, boxes, structured states, per architecture), arguments passed under the model's own
names, pixel ranks, decoder start ids, video sessions, generate-only models, processor switches the
model never reads, chained generate stages, and which non-finite outputs fail."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch

from conftest import arch_errors, assert_all_validate, build_in_process
from tinymodels.config.tiny_config import config_from_dict, tiny_config_dict
from tinymodels.knowledge import override_for
from tinymodels.options import BuildOptions
from tinymodels.validate.forward import _check_finite, _generate_only
from tinymodels.validate.inputs import VideoSessions, model_inputs
from tinymodels.validate.levels import ValidationError
from tinymodels.validate.synthesized import synthesized_inputs

TYPES = ("nemotron3_5_transcribe_audio", "kyutai_speech_to_text", "sam2_video", "phi4_multimodal_audio",
         "gemma3n_audio")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """nemotron3_5_transcribe_audio (call waveform), kyutai_speech_to_text (codec ids),
    sam2_video (session-driven tracker), phi4_multimodal_audio (`mask` passed as None, features
    aliased), gemma3n_audio (mask inverted under the encoder's name)."""
    return build_in_process(tmp_path_factory, "forward-inputs", TYPES)


def _config(model_type: str) -> Any:
    return config_from_dict(model_type, tiny_config_dict(model_type))


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


def test_time_series_inputs_follow_config_expressions() -> None:
    from transformers import TimeSeriesTransformerConfig

    config = TimeSeriesTransformerConfig(prediction_length=3, context_length=5, lags_sequence=[1, 2, 6],
                                         num_time_features=2)
    spec = override_for("time_series_transformer").inputs["synthesize"]
    out = synthesized_inputs(config, {}, spec)
    assert out["past_values"].shape == (1, 5 + 6)  # context + the longest lag
    assert out["past_time_features"].shape == (1, 11, 2)
    assert out["future_time_features"].shape == (1, 3, 2)
    assert torch.equal(out["past_observed_mask"], torch.ones(1, 11))


def test_synthesized_masks_boxes_and_bad_expressions() -> None:
    from transformers import VideoMAEConfig

    config = VideoMAEConfig(num_frames=8, tubelet_size=2, image_size=32, patch_size=4)
    mask = synthesized_inputs(config, {}, override_for("videomae").inputs["synthesize"])["bool_masked_pos"]
    assert mask.dtype == torch.bool and mask.shape == (1, 4 * 8 * 8)
    boxes = synthesized_inputs(config, {"input_ids": torch.ones(2, 7, dtype=torch.long)},
                               {"bbox": {"shape": ["batch", "seq", 4], "fill": "box", "high": 1000}})["bbox"]
    assert boxes.shape == (2, 7, 4) and boxes.max() < 1000
    assert (boxes[..., 0] <= boxes[..., 2]).all() and (boxes[..., 1] <= boxes[..., 3]).all()
    with pytest.raises(ValidationError, match="unsupported shape expression"):
        synthesized_inputs(config, {}, {"x": {"shape": ["__import__('os')"]}})


def test_structured_states_are_synthesized_as_dicts_of_pairs() -> None:
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.config.upstream_config import tiny_config_for
    from tinymodels.knowledge import override_for
    from tinymodels.validate.synthesized import synthesized_inputs

    tiny, _ = tiny_config_for("gemma4_assistant", BuildOptions())
    config = config_from_dict("gemma4_assistant", tiny)
    spec = override_for("gemma4_assistant").inputs["synthesize"]
    made = synthesized_inputs(config, {}, spec)
    kv = made["shared_kv_states"]
    assert set(kv) == {"full_attention", "sliding_attention"}
    key, value = kv["full_attention"]
    heads, head_dim = tiny["text_config"]["num_key_value_heads"], tiny["text_config"]["head_dim"]
    assert key.shape == (1, heads, 4, head_dim) and key.shape == value.shape
    assert not torch.equal(key, value)  # two draws, not one tensor twice
    assert made["inputs_embeds"].shape == (1, 1, 2 * tiny["backbone_hidden_size"])


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
    from tinymodels.validate.forward import model_inputs

    folder = built["out"] / "gemma3n_audio" / "Gemma3nAudioEncoder"
    fe = AutoFeatureExtractor.from_pretrained(folder)
    inputs = dict(fe([sample_audio()], sampling_rate=16_000, return_tensors="pt"))
    kwargs = model_inputs(AutoModel.from_pretrained(folder), inputs, "Gemma3nAudioEncoder")
    assert kwargs["audio_mel"] is inputs["input_features"]
    assert (kwargs["audio_mel_mask"] == ~inputs["input_features_mask"].bool()).all()


def test_optional_required_argument_gets_none(built: dict[str, Any]) -> None:
    from transformers import Phi4MultimodalAudioModel

    model = Phi4MultimodalAudioModel.from_pretrained(built["out"] / "phi4_multimodal_audio" / "Phi4MultimodalAudioModel")
    assert inspect.signature(model.forward).parameters["mask"].default is inspect.Parameter.empty
    features = torch.zeros(1, 16, 80)
    kwargs = model_inputs(model, {"audio_input_features": features}, "Phi4MultimodalAudioModel")
    assert kwargs["hidden_states"] is features and kwargs["mask"] is None


def test_pixel_rank_follows_the_model_code_and_leaves_vlms_alone() -> None:
    from transformers import AutoModel

    images = torch.zeros(1, 3, 3, 32, 32)
    tower = AutoModel.from_config(_config("idefics3_vision"))
    assert model_inputs(tower, {"pixel_values": images}, "Idefics3VisionTransformer")["pixel_values"].dim() == 4
    # The VLM flattens its own image batches: its input keeps 5 dimensions.
    vlm = AutoModel.from_config(_config("idefics3"))
    assert model_inputs(vlm, {"pixel_values": images}, "Idefics3Model")["pixel_values"].dim() == 5


def test_video_tracker_runs_on_a_processor_made_session(built: dict[str, Any]) -> None:
    from transformers import AutoModel, AutoProcessor

    path = built["out"] / "sam2_video" / "Sam2VideoModel"
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    sessions = VideoSessions(processor)
    kwargs = model_inputs(model, {"pixel_values": torch.zeros(1), "inference_session": sessions}, "Sam2VideoModel")
    assert set(kwargs) == {"inference_session", "frame_idx"}
    assert kwargs["inference_session"] is not sessions()  # a fresh session each time
    with torch.no_grad():
        out = model(**kwargs)
    assert torch.isfinite(out.pred_masks).all()


def test_generate_only_models_are_detected() -> None:
    import transformers

    assert transformers.Qwen3OmniMoeForConditionalGeneration.forward is torch.nn.Module.forward
    from tinymodels.build.models import instantiate
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.config.upstream_config import tiny_config_for

    tiny, _ = tiny_config_for("bert", BuildOptions())
    bert = instantiate("BertModel", config_from_dict("bert", tiny), 0)
    assert not _generate_only(bert)


def test_generation_stages_are_read_from_a_chained_generate() -> None:
    from transformers import BarkModel, LlamaForCausalLM

    from tinymodels.validate.forward import generation_stages
    from tinymodels.validate.pipelines import staged_budget

    bark = BarkModel.__new__(BarkModel)
    assert generation_stages(bark) == ["semantic_", "coarse_", "fine_"]
    assert staged_budget(bark, {"max_new_tokens": 4, "do_sample": False}) == {"semantic_max_new_tokens": 4,
                                                                              "do_sample": False}
    assert generation_stages(LlamaForCausalLM.__new__(LlamaForCausalLM)) == []


@pytest.mark.slow  # builds real models
def test_token_types_the_model_never_reads_are_not_asked_for(tmp_path_factory: pytest.TempPathFactory) -> None:
    # MiniMax-M3-VL's processor lists mm_token_type_ids but its forward does not read them: asked
    # for, `generate` refuses them as unused (any-to-any pipeline and chat). Cosmos3 Edge needs them.
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from tinymodels.validate.inputs import processor_switches

    built = build_in_process(tmp_path_factory, "fidelity-mm-switch", ("minimax_m3_vl",))
    assert_all_validate(built["minimax_m3_vl"])
    folder = next(p for p in (built["out"] / "minimax_m3_vl").iterdir() if p.name.endswith("ForConditionalGeneration"))
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert "mm_token_type_ids" in processor.model_input_names
    assert processor_switches(processor) == {"return_mm_token_type_ids": True}
    assert processor_switches(processor, model) == {}


def test_minus_inf_is_a_mask_value_but_nan_and_plus_inf_fail() -> None:
    logits = torch.tensor([[0.5, float("-inf")]])
    _check_finite({"logits": logits}, "M.forward")  # Grounding DINO's masked text positions
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ValidationError, match="NaN or \\+Inf"):
            _check_finite({"logits": torch.tensor([[0.5, bad]])}, "M.forward")
