"""The `train` level (`validate.train`, `train.yaml`): one optimizer step on the batch and labels of
the head's kind: right-padded text batches, question-answering and fixed-length heads, speech heads
on their processor's batch, pixels and processor arguments the model takes, and VLM heads."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import arch_errors, arch_levels, build_in_process, build_selected, levels_of
from tinymodels.validate.levels import OK

TYPES = ("cohere_asr", "lasr_ctc", "seamless_m4t_v2", "videomae", "layoutlmv3", "mobilenet_v1",
         "cosmos3_edge", "hunyuan_vl", "instructblipvideo")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "train", TYPES)


@pytest.mark.slow  # builds real models
def test_gemma3n_trains_without_nan_gradients(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Gemma's tokenizer pads on the left; a training batch is padded on the right, so no all-zero
    # pad rows reach the unclamped RMS of the altup states (it gave NaN gradients).
    entry = build_selected(tmp_path_factory, "gemma3n_text", ("Gemma3nForCausalLM",), {"train"})
    assert levels_of(entry, "Gemma3nForCausalLM")["train"] == OK


def test_training_batches_pad_on_the_right_and_restore_the_side() -> None:
    from tinymodels.preprocess.processors import Processors
    from tinymodels.preprocess.tokenization import train_tokenizer
    from tinymodels.validate.train_batch import padded_batch

    tokenizer = train_tokenizer("GemmaTokenizer", "builtin", 1024)
    assert tokenizer.padding_side == "left"
    batch = padded_batch(Processors(tokenizer=tokenizer), text_only=True)
    mask = batch["attention_mask"]
    assert mask[0, 0] == 1 and mask[0, -1] == 0  # the short text is padded at its end
    assert tokenizer.padding_side == "left"


@pytest.mark.slow  # builds real models
def test_question_answering_and_fixed_length_heads_train(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Longformer finds the question by its three separators: its batch is (question, text) pairs
    # from the type's inputs.call data. Perceiver's MLM decoder predicts max_position_embeddings
    # positions: its batch and labels are padded to that length.
    qa = ("LongformerForQuestionAnswering", "LongformerForMultipleChoice")
    longformer = build_selected(tmp_path_factory, "longformer", qa, {"train"})
    perceiver = build_selected(tmp_path_factory, "perceiver", ("PerceiverForMaskedLM",), {"train"})
    for arch in qa:
        assert levels_of(longformer, arch)["train"] == OK
    assert levels_of(perceiver, "PerceiverForMaskedLM")["train"] == OK


def test_speech_heads_train_on_their_processors_batch(built: dict[str, Any]) -> None:
    for model_type, arch in (("cohere_asr", "CohereAsrForConditionalGeneration"), ("lasr_ctc", "LasrForCTC"),
                             ("seamless_m4t_v2", "SeamlessM4Tv2ForSpeechToText")):
        assert arch_levels(built, model_type, arch)["train"] == "ok", (model_type, arch_errors(built[model_type]))


def test_train_uses_the_pixels_and_arguments_the_model_takes(built: dict[str, Any]) -> None:
    # Two clips through the video processor (not two images as one clip); OCR words and boxes
    # for a processor that requires them; a classifier dropout that lets a step change the loss.
    assert arch_levels(built, "videomae", "VideoMAEForVideoClassification")["train"] == "ok"
    for arch in ("LayoutLMv3ForQuestionAnswering", "LayoutLMv3ForSequenceClassification", "LayoutLMv3ForTokenClassification"):
        assert arch_levels(built, "layoutlmv3", arch)["train"] == "ok", arch
    assert arch_levels(built, "mobilenet_v1", "MobileNetV1ForImageClassification")["train"] == "ok"


def test_vlm_heads_chat_and_train(built: dict[str, Any]) -> None:
    for model_type, arch in (("cosmos3_edge", "Cosmos3EdgeForConditionalGeneration"),
                             ("hunyuan_vl", "HunYuanVLForConditionalGeneration"),
                             ("instructblipvideo", "InstructBlipVideoForConditionalGeneration")):
        levels = arch_levels(built, model_type, arch)
        assert levels["train"] == "ok", (model_type, levels)
    for model_type, arch in (("cosmos3_edge", "Cosmos3EdgeForConditionalGeneration"),
                             ("hunyuan_vl", "HunYuanVLForConditionalGeneration")):
        assert arch_levels(built, model_type, arch)["chat"] == "ok"
