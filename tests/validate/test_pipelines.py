"""Multimodal fidelity on real builds: prompt-and-image pipelines in the form the processor accepts
(the bare prompt for a processor that inserts the image tokens itself: Florence-2; token types its
model does not read dropped: GIT; a clip read from `images`: InstructBLIP-Video), processor switches
the model needs (Cosmos3 Edge's M-RoPE token types) in pipelines and chat, a chat placeholder
wrapped in the processor's own start/end tokens (HunYuan-VL), and generative pipelines reported
skipped, by introspection, for a model that cannot generate (PI0)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import arch_levels, assert_all_validate, build_in_process

TYPES = ("git", "florence2", "instructblipvideo", "cosmos3_edge", "hunyuan_vl", "pi0")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "fidelity-mm", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


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


def test_vlm_heads_chat_and_train(built: dict[str, Any]) -> None:
    for model_type, arch in (("cosmos3_edge", "Cosmos3EdgeForConditionalGeneration"),
                             ("hunyuan_vl", "HunYuanVLForConditionalGeneration"),
                             ("instructblipvideo", "InstructBlipVideoForConditionalGeneration")):
        levels = arch_levels(built, model_type, arch)
        assert levels["train"] == "ok", (model_type, levels)
    for model_type, arch in (("cosmos3_edge", "Cosmos3EdgeForConditionalGeneration"),
                             ("hunyuan_vl", "HunYuanVLForConditionalGeneration")):
        assert arch_levels(built, model_type, arch)["chat"] == "ok"


def _pipeline(built: dict[str, Any], model_type: str, arch: str) -> Any:
    from transformers import pipeline

    return pipeline("any-to-any", model=str(built["out"] / model_type / arch), device="cpu")


def test_prompt_forms_follow_the_processor(built: dict[str, Any]) -> None:
    from tinymodels.validate.pipelines import prompt_calls

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

    from tinymodels.validate.pipelines import prompt_calls

    (_, single), (_, batch) = prompt_calls(
        _pipeline(built, "instructblipvideo", "InstructBlipVideoForConditionalGeneration"))
    assert all(isinstance(frame, Image.Image) for frame in single["images"])
    assert len(batch["images"]) == 2 and all(len(clip) == len(single["images"]) for clip in batch["images"])


def test_chat_placeholder_is_wrapped_when_the_processor_requires_it(built: dict[str, Any]) -> None:
    from transformers import AutoProcessor

    from tinymodels.validate.chat import chat_placeholder

    processor = AutoProcessor.from_pretrained(built["out"] / "hunyuan_vl" / "HunYuanVLForConditionalGeneration")
    wrapped = processor.image_start_token + processor.image_token + processor.image_end_token
    assert chat_placeholder(processor, "image") == wrapped
    assert wrapped in processor.chat_template
    # A processor that accepts its bare placeholder keeps it (Cosmos3 Edge has start/end tokens too).
    cosmos = AutoProcessor.from_pretrained(built["out"] / "cosmos3_edge" / "Cosmos3EdgeForConditionalGeneration")
    assert chat_placeholder(cosmos, "image") in (cosmos.image_token, getattr(cosmos, "image_placeholder_token", None))


def test_generative_pipelines_are_skipped_for_a_model_that_cannot_generate(built: dict[str, Any]) -> None:
    pipelines = arch_levels(built, "pi0", "PI0ForConditionalGeneration")["pipeline"]
    assert set(pipelines) == {"any-to-any", "image-text-to-text"}
    for task, status in pipelines.items():
        assert status.startswith("skipped: PI0ForConditionalGeneration cannot generate"), (task, status)


def test_token_types_the_model_never_reads_are_not_asked_for(tmp_path_factory: pytest.TempPathFactory) -> None:
    # MiniMax-M3-VL's processor lists mm_token_type_ids but its forward does not read them: asked
    # for, `generate` refuses them as unused (any-to-any pipeline and chat). Cosmos3 Edge needs them.
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from tinymodels.validate.forward import processor_switches

    built = build_in_process(tmp_path_factory, "fidelity-mm-switch", ("minimax_m3_vl",))
    assert_all_validate(built["minimax_m3_vl"])
    folder = next(p for p in (built["out"] / "minimax_m3_vl").iterdir() if p.name.endswith("ForConditionalGeneration"))
    processor = AutoProcessor.from_pretrained(folder)
    model = AutoModelForImageTextToText.from_pretrained(folder)
    assert "mm_token_type_ids" in processor.model_input_names
    assert processor_switches(processor) == {"return_mm_token_type_ids": True}
    assert processor_switches(processor, model) == {}
