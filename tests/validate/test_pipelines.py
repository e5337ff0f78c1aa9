"""The `pipeline` level (`validate.pipelines`, `pipeline-tasks.yaml`): which tasks serve a model (by
introspection), prompt-and-media calls in the form the processor accepts, tasks that cannot collate,
audio prompts, a failed task named with what passed, and generating pipelines reported skipped for
models that cannot drive them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import arch_levels, build_in_process, build_selected, levels_of
from tinymodels.validate.levels import LevelError
from tinymodels.validate.pipeline_tasks import task_specs

TYPES = ("git", "florence2", "instructblipvideo", "cosmos3_edge", "hunyuan_vl", "pi0", "gpt2",
         "gradium_phonon_tts", "voxtral", "kyutai_speech_to_text", "hgnet_v2", "decision_transformer",
         "pvt", "superglue", "layoutlmv3")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "pipelines", TYPES)


def _folder(built: dict[str, Any], model_type: str, arch: str) -> Path:
    return built["out"] / model_type / arch


def _pipeline(built: dict[str, Any], model_type: str, arch: str) -> Any:
    from transformers import pipeline

    return pipeline("any-to-any", model=str(built["out"] / model_type / arch), device="cpu")


@pytest.mark.parametrize(("model_type", "arch"), [
    ("git", "GitForCausalLM"),
    ("florence2", "Florence2ForConditionalGeneration"),
    ("instructblipvideo", "InstructBlipVideoForConditionalGeneration"),
    ("cosmos3_edge", "Cosmos3EdgeForConditionalGeneration"),
    ("hunyuan_vl", "HunYuanVLForConditionalGeneration"),
])
def test_prompt_and_image_pipelines_pass(built: dict[str, Any], model_type: str, arch: str) -> None:
    levels = arch_levels(built, model_type, arch)
    assert levels["pipeline"]["any-to-any"] == "ok"
    assert set(levels["pipeline"].values()) == {"ok"}


def test_prompt_forms_follow_the_processor(built: dict[str, Any]) -> None:
    from tinymodels.validate.pipeline_samples import prompt_calls

    # Florence-2's processor inserts its image tokens itself and refuses a placeholder in the prompt.
    pipe = _pipeline(built, "florence2", "Florence2ForConditionalGeneration")
    (_, single), (_, batch) = prompt_calls(pipe)
    assert pipe.processor.image_token not in single["text"]
    assert len(batch["text"]) == 2 and len(batch["images"]) == 2
    # GIT's tokenizer returns token types that GitForCausalLM.forward (hence generate) does not read.
    (_, single), _ = prompt_calls(_pipeline(built, "git", "GitForCausalLM"))
    assert single["processor_kwargs"]["return_token_type_ids"] is False
    # Cosmos3 Edge's processor lists mm_token_type_ids among the model's inputs but returns them only when asked.
    (_, single), _ = prompt_calls(_pipeline(built, "cosmos3_edge", "Cosmos3EdgeForConditionalGeneration"))
    assert single["processor_kwargs"]["return_mm_token_type_ids"] is True


def test_clip_read_from_images_is_one_prompts_frames(built: dict[str, Any]) -> None:
    from PIL import Image

    from tinymodels.validate.pipeline_samples import prompt_calls

    (_, single), (_, batch) = prompt_calls(
        _pipeline(built, "instructblipvideo", "InstructBlipVideoForConditionalGeneration"))
    assert all(isinstance(frame, Image.Image) for frame in single["images"])
    assert len(batch["images"]) == 2 and all(len(clip) == len(single["images"]) for clip in batch["images"])


def test_generative_pipelines_are_skipped_for_a_model_that_cannot_generate(built: dict[str, Any]) -> None:
    pipelines = arch_levels(built, "pi0", "PI0ForConditionalGeneration")["pipeline"]
    assert set(pipelines) == {"any-to-any", "image-text-to-text"}
    for task, status in pipelines.items():
        assert status.startswith("skipped: PI0ForConditionalGeneration cannot generate"), (task, status)


def test_failed_level_names_the_task_and_keeps_what_passed(built: dict[str, Any]) -> None:
    from tinymodels.validate.pipeline_tasks import task_specs
    from tinymodels.validate.pipelines import run_pipelines

    # GPT-2 has no mask token: fill-mask cannot run on it, and says so.
    done: dict[str, str] = {}
    specs = task_specs()
    tasks = {"feature-extraction": specs["feature-extraction"], "fill-mask": specs["fill-mask"]}
    with pytest.raises(LevelError) as caught:
        run_pipelines(_folder(built, "gpt2", "GPT2Model"), tasks, {}, done)
    assert caught.value.level == "pipeline" and caught.value.detail == "fill-mask"
    assert "mask_token" in str(caught.value)
    assert done == {"feature-extraction": "ok", "fill-mask": "failed"}


def test_feature_extraction_serves_only_models_that_read_its_input(built: dict[str, Any]) -> None:
    # A backbone returns feature maps, not a tensor; a decision transformer reads states, not ids.
    assert "pipeline" not in arch_levels(built, "hgnet_v2", "HGNetV2Backbone")
    assert arch_levels(built, "hgnet_v2", "HGNetV2ForImageClassification")["pipeline"] == {"image-classification": "ok"}
    assert "pipeline" not in arch_levels(built, "decision_transformer", "DecisionTransformerModel")
    assert arch_levels(built, "pvt", "PvtModel")["pipeline"] == {"image-feature-extraction": "ok"}


def test_tasks_that_cannot_collate_run_one_by_one(built: dict[str, Any]) -> None:
    specs = task_specs()
    assert specs["keypoint-matching"].batch_size == 1
    assert specs["document-question-answering"].batch_size == 1
    assert arch_levels(built, "superglue", "SuperGlueForKeypointMatching")["pipeline"] == {"keypoint-matching": "ok"}
    assert arch_levels(built, "layoutlmv3", "LayoutLMv3ForQuestionAnswering")["pipeline"] == {"document-question-answering": "ok"}


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


@pytest.mark.slow  # builds real models
def test_draft_model_serves_no_generating_pipeline(tmp_path_factory: pytest.TempPathFactory) -> None:
    entry = build_selected(tmp_path_factory, "gemma4_assistant", ("Gemma4AssistantForCausalLM",), {"forward", "pipeline"})
    assert "pipeline" not in levels_of(entry, "Gemma4AssistantForCausalLM")
