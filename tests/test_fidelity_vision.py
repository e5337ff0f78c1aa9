"""Fidelity of vision, document and decision heads on real builds: which pipeline tasks serve a
model (selected by introspection), how tasks that cannot collate run, and training steps on the
pixels and processor arguments the model really takes."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import arch_errors, arch_levels, build_in_process
from tinymodels.config.repair_fields import repair_label_names
from tinymodels.validate.pipeline_tasks import task_specs

# Small and quick: a classifier whose config class hides its label names (pvt), a backbone
# under AutoModel (hgnet_v2), a video classifier (videomae), a classifier with a drop-everything
# default dropout (mobilenet_v1), a keypoint matcher (superglue), a document QA model that needs
# OCR words and boxes (layoutlmv3), an RL model (decision_transformer) and a decision head (jev).
TYPES = ("pvt", "hgnet_v2", "videomae", "mobilenet_v1", "superglue", "layoutlmv3", "decision_transformer", "jev")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "fidelity-vision", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_passes_itsarch_levels(built: dict[str, Any], model_type: str) -> None:
    assert arch_errors(built[model_type]) == {}


def test_labels_get_names_when_the_config_class_hides_them(built: dict[str, Any]) -> None:
    # PvtConfig redeclares num_labels as a field: id2label stays None unless repaired.
    d: dict[str, Any] = {"num_labels": 3, "id2label": None, "label2id": None}
    repair_label_names(d, {})
    assert d["id2label"] == {0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"}
    assert d["label2id"]["LABEL_2"] == 2
    named = {"num_labels": 2, "id2label": {0: "cat", 1: "dog"}}
    repair_label_names(named, {})
    assert named["id2label"] == {0: "cat", 1: "dog"}
    levels = arch_levels(built, "pvt", "PvtForImageClassification")
    assert levels["pipeline"] == {"image-classification": "ok"}
    assert levels["train"] == "ok"


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


def test_train_uses_the_pixels_and_arguments_the_model_takes(built: dict[str, Any]) -> None:
    # Two clips through the video processor (not two images as one clip); OCR words and boxes
    # for a processor that requires them; a classifier dropout that lets a step change the loss.
    assert arch_levels(built, "videomae", "VideoMAEForVideoClassification")["train"] == "ok"
    for arch in ("LayoutLMv3ForQuestionAnswering", "LayoutLMv3ForSequenceClassification", "LayoutLMv3ForTokenClassification"):
        assert arch_levels(built, "layoutlmv3", arch)["train"] == "ok", arch
    assert arch_levels(built, "mobilenet_v1", "MobileNetV1ForImageClassification")["train"] == "ok"


def test_decision_heads_get_a_template_but_no_chat_level(built: dict[str, Any]) -> None:
    from transformers import AutoTokenizer

    levels = arch_levels(built, "jev", "JevForDecision")
    assert levels["pipeline"] == {"decision": "ok"}
    assert "chat" not in levels
    tokenizer = AutoTokenizer.from_pretrained(built["out"] / "jev" / "JevForDecision")
    assert tokenizer.chat_template
