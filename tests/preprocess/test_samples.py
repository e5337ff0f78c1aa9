"""Sample inputs for processor calls (`preprocess.samples`): per-type call arguments (`inputs.call`)
made fresh for every call, and a matting checkpoint that reads an image and a trimap."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import build_in_process
from tinymodels.knowledge import override_for
from tinymodels.preprocess.samples import CALL_SAMPLES, call_samples

TYPES = ("vitmatte",)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """vitmatte (image processor called with a trimap)."""
    return build_in_process(tmp_path_factory, "samples", TYPES)


def test_call_samples_are_fresh_and_known_kinds_only() -> None:
    call = override_for("layoutlmv3").inputs["call"]
    args = call_samples(call)
    assert len(args["text"]) == len(args["boxes"])  # one box per word
    assert all(0 <= v <= 1000 for box in args["boxes"] for v in box)
    args["boxes"].append([0, 0, 1, 1])
    assert len(call_samples(call)["boxes"]) == len(args["text"])  # a new list per call
    assert call_samples({"text": None}) == {"text": None}
    with pytest.raises(ValueError, match="unknown sample kind"):
        call_samples({"images": "no_such_kind"})
    for entry in ("lightglue", "vitmatte", "oneformer", "seggpt", "longformer"):
        assert set(override_for(entry).inputs["call"].values()) <= set(CALL_SAMPLES) | {None}


def test_vitmatte_checkpoint_reads_image_and_trimap(built: dict[str, Any]) -> None:
    from transformers import AutoImageProcessor

    folder: Path = built["out"] / "vitmatte" / "VitMatteForImageMatting"
    proc = AutoImageProcessor.from_pretrained(folder)
    out = proc(**call_samples({"images": "image", "trimaps": "trimap"}), return_tensors="pt")
    assert out["pixel_values"].shape[1] == 4  # RGB + trimap
    assert json.loads((folder / "config.json").read_text())["backbone_config"]["num_channels"] == 4
