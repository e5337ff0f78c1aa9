"""The forward-pass validation catches broken models."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tinymodels.build.architectures import reload_processors
from tinymodels.config.discover import architecture_mappings
from tinymodels.preprocess.processors import Processors
from tinymodels.validate.forward import validate_model
from tinymodels.validate.inputs import processor_inputs
from tinymodels.validate.levels import ValidationError


def _load(built: Path, arch: str):
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    folder = built / "bert" / arch
    model = AutoModelForMaskedLM.from_pretrained(folder)
    procs = reload_processors(folder, Processors(tokenizer=AutoTokenizer.from_pretrained(folder)))
    return model, processor_inputs(procs)


def test_healthy_model_passes(built: Path) -> None:
    model, inputs = _load(built, "BertForMaskedLM")
    validate_model(model, "BertForMaskedLM", inputs, architecture_mappings("bert")["BertForMaskedLM"])


def test_nan_weights_are_caught(built: Path) -> None:
    model, inputs = _load(built, "BertForMaskedLM")
    with torch.no_grad():
        model.bert.embeddings.word_embeddings.weight.fill_(float("nan"))
    with pytest.raises(ValidationError, match="NaN"):
        validate_model(model, "BertForMaskedLM", inputs, architecture_mappings("bert")["BertForMaskedLM"])


def test_wrong_shape_input_is_caught(built: Path) -> None:
    model, inputs = _load(built, "BertForMaskedLM")
    inputs["input_ids"] = inputs["input_ids"] + 5000  # ids outside the embedding table
    with pytest.raises(IndexError):
        validate_model(model, "BertForMaskedLM", inputs, architecture_mappings("bert")["BertForMaskedLM"])


def test_no_usable_input_is_caught(built: Path) -> None:
    model, _ = _load(built, "BertForMaskedLM")
    with pytest.raises(ValidationError, match="no input"):
        validate_model(model, "BertForMaskedLM", {"pixel_values": torch.zeros(1, 3, 8, 8)},
                       architecture_mappings("bert")["BertForMaskedLM"])
