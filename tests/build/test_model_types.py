"""Every architecture of the model types the mechanism tests build validates end to end (the
integration check behind each mechanism; the mechanism's own assertions live in the test file of
its module), and the types transformers 5.25 added pass every level."""

from __future__ import annotations

from typing import Any

import pytest
import transformers
from packaging.version import Version

from conftest import arch_errors, assert_all_validate, build_in_process

# The types a mechanism test builds, grouped by the module that carries the mechanism.
VALIDATED = (
    # config: shrink rules, repairs
    "gemma3n_vision", "sam2", "pp_ocrv6_small_det", "swin", "t5gemma2_encoder", "t5gemma", "mistral4", "apertus1p5",
    "gemma4_unified",
    # preprocess: tokens, processor sizes, alignment, samples
    "esm", "idefics3", "m2m_100", "cohere_compass", "slanext", "idefics3_vision", "paddleocr_vl_vision", "tipsv2",
    "canary", "timm_wrapper", "ovis2", "molmo2", "vitmatte", "tapas",
    # build: borrowed processors, tokenizers given by data, speaker files, half dtypes
    "glmga", "dinov2_with_registers", "vitdet", "patchtst", "voxtral_encoder", "fastspeech2_conformer_with_hifigan",
    "qwen2_5_omni", "llama4_vision_model", "qwen3_omni_moe",
    # validate: inputs, pipelines, chat, train
    "nemotron3_5_transcribe_audio", "sam2_video", "phi4_multimodal_audio", "gemma3n_audio", "speecht5",
    "git", "florence2", "instructblipvideo", "cosmos3_edge", "hunyuan_vl", "pi0",
    "seamless_m4t_v2", "cohere_asr", "lasr_ctc", "gradium_phonon_tts", "voxtral",
    # vision and decision heads: a classifier whose config class hides its label names (pvt), a backbone
    # under AutoModel (hgnet_v2), a video classifier (videomae), a classifier with a drop-everything
    # default dropout (mobilenet_v1), a keypoint matcher (superglue), a document QA model that needs
    # OCR words and boxes (layoutlmv3), an RL model (decision_transformer) and a decision head (jev).
    "pvt", "hgnet_v2", "videomae", "mobilenet_v1", "superglue", "layoutlmv3", "decision_transformer", "jev",
)
# Common types every level is recorded for.
COMMON = ("gpt2", "llama", "qwen2", "roberta", "llava", "whisper", "modernbert", "marian")
NEW_525 = ("kolibri1_1", "pi05", "ovis2_5", "llava_onevision1_5")

needs_525 = pytest.mark.skipif(Version(transformers.__version__).release < (5, 25),
                               reason="kolibri1_1, pi05, ovis2_5 and llava_onevision1_5 are new in transformers 5.25")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "model-types", VALIDATED + COMMON)


@pytest.fixture(scope="module")
def built_525(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "new525", NEW_525)


@pytest.mark.parametrize("model_type", VALIDATED)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


@pytest.mark.parametrize("model_type", COMMON)
def test_every_architecture_loads_and_runs_forward(built: dict[str, Any], model_type: str) -> None:
    assert arch_errors(built[model_type]) == {}
    for arch, info in built[model_type]["pytorch"].items():
        assert info["levels"]["load"] == "ok", arch
        assert info["levels"]["forward"] == "ok", arch


@needs_525
@pytest.mark.parametrize("model_type", NEW_525)
def test_every_new_type_passes_every_level(built_525: dict[str, Any], model_type: str) -> None:
    entry = built_525[model_type]
    assert_all_validate(entry)
    for arch, result in entry["pytorch"].items():
        for level, outcome in result["levels"].items():
            outcomes = outcome.values() if isinstance(outcome, dict) else [outcome]
            # Only the pipelines a model that cannot generate has no use for are skipped.
            assert all(o == "ok" or (o.startswith("skipped: ") and "cannot generate" in o) for o in outcomes), \
                (arch, level, outcome)



