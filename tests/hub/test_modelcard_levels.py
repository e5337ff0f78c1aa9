"""The model card (`hub.modelcard`) states the validation levels a real build passed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import build_in_process

TYPES = ("gpt2",)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "modelcard", TYPES)


def _folder(built: dict[str, Any], model_type: str, arch: str) -> Path:
    return built["out"] / model_type / arch


def test_model_card_states_the_levels_passed(built: dict[str, Any]) -> None:
    from tinymodels.hub.modelcard import model_card

    arch = "GPT2ForSequenceClassification"
    entry = built["gpt2"]
    card = model_card(_folder(built, "gpt2", arch), "org/tiny-random-" + arch, arch, entry["pytorch"][arch], entry)
    assert "| Validated | load, forward, pipeline (text-classification, zero-shot-classification), train |" in card
    assert "| Chat template | generic format |" in card
