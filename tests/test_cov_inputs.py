"""Models whose forward gets no usable input from the plain sample call: an image processor borrowed
for vision types with none (modular parent or generic), every input synthesized for types with no
processor (time series), and per-type processor call arguments (`inputs.call`), on real builds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import assert_all_validate, build_in_process
from tinymodels.build.processor_plan import GENERIC_IMAGE_PROCESSOR
from tinymodels.config.discover import modular_parents, processor_classes
from tinymodels.knowledge import override_for
from tinymodels.options import BuildOptions
from tinymodels.preprocess.samples import CALL_SAMPLES, call_samples, sample_image
from tinymodels.preprocess.special_tokens import processor_added_tokens, processor_special_tokens
from tinymodels.validate.levels import ValidationError
from tinymodels.validate.synthesized import synthesized_inputs

TYPES = ("dinov2_with_registers", "vitdet", "patchtst", "vitmatte")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real build per mechanism: dinov2_with_registers (image processor of its modular parent
    dinov2), vitdet (generic image processor), patchtst (no processor: synthesized past values),
    vitmatte (image processor called with a trimap)."""
    return build_in_process(tmp_path_factory, "cov-inputs", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_modular_parents_name_the_family_a_type_derives_from() -> None:
    assert "rt_detr" in modular_parents("d_fine")
    assert modular_parents("dinov2_with_registers") == ("dinov2",)
    assert modular_parents("bert") == ()  # no modular source file


def test_borrowed_image_processor_is_saved_reported_and_reloads(built: dict[str, Any]) -> None:
    from transformers import AutoImageProcessor

    assert processor_classes("dinov2_with_registers").is_empty()
    parent = processor_classes("dinov2").image_processor
    for model_type, expected in (("dinov2_with_registers", parent), ("vitdet", GENERIC_IMAGE_PROCESSOR)):
        entry = built[model_type]
        assert expected in entry["processor"], entry["processor"]
        assert any(expected in w for w in entry.get("warnings", [])), entry.get("warnings")
        folder: Path = built["out"] / model_type / next(iter(entry["pytorch"]))
        loaded = AutoImageProcessor.from_pretrained(folder)
        assert type(loaded).__name__ == expected
        # Sized to the tiny config, not the class default (224).
        assert loaded(sample_image(), return_tensors="pt")["pixel_values"].shape[-1] <= 64


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


def test_time_series_checkpoint_has_no_processor_files(built: dict[str, Any]) -> None:
    folder: Path = built["out"] / "patchtst" / "PatchTSTModel"
    assert (folder / "config.json").exists()
    assert not (folder / "preprocessor_config.json").exists()
    assert built["patchtst"]["processor"] == {}


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


def test_self_added_processor_tokens_are_added_unnamed() -> None:
    # BLIP-2 adds `<image>` itself and reads `.content`: it must not become a named str token.
    assert processor_added_tokens("Blip2Processor") == ["<image>"]
    assert "image_token" not in processor_special_tokens("Blip2Processor")
    # Literal placeholders the processor writes are listed too, each once.
    added = processor_added_tokens("LlavaProcessor")
    assert added == list(dict.fromkeys(added)) and set(added) <= {"<image>"}


def test_document_tokenizers_train_and_are_sized_with_words_and_boxes() -> None:
    # LayoutLMv3's tokenizer encodes OCR words with boxes, never a plain string: probing it with
    # one used to force the generic fallback (and then the processor could not take boxes).
    from tinymodels.preprocess.align import tokenizer_vocab_size
    from tinymodels.preprocess.tokenization import encode_text, train_tokenizer

    options = BuildOptions()
    tok = train_tokenizer("LayoutLMv3Tokenizer", options.corpus, options.vocab_size)
    assert type(tok).__name__ == "LayoutLMv3Tokenizer"
    assert tok.tinymodels_fallback is None
    ids = encode_text(tok, "Hello tiny world")
    assert ids and all(isinstance(i, int) for i in ids)
    assert tokenizer_vocab_size(tok) >= max(ids) + 1
