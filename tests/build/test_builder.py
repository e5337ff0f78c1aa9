"""One model type end to end (`build.builder`): processors borrowed for types that register none
(modular parent, owner, generic), processor classes named by override data, null processor
components, media-only sub-models without a tokenizer, types without processor files, unexported
mapped classes and missing libraries reported as such."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import arch_errors, build_in_process
from tinymodels.build.processor_plan import GENERIC_IMAGE_PROCESSOR, _unregistered_processor
from tinymodels.config.discover import modular_parents, processor_classes
from tinymodels.preprocess.samples import sample_image

TYPES = ("musicgen_melody", "glmga", "dinov2_with_registers", "vitdet", "patchtst", "voxtral_encoder")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """musicgen_melody (torchaudio missing), glmga (the processor of its modular parent
    glm4v), dinov2_with_registers (image processor of its modular parent dinov2), vitdet (generic
    image processor), patchtst (no processor), voxtral_encoder (media-only sub-model)."""
    return build_in_process(tmp_path_factory, "builder", TYPES)


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


def test_multimodal_type_without_processor_gets_one(built: dict[str, Any]) -> None:
    # Own processing module, owner of a sub-model, modular parent: in that order.
    assert _unregistered_processor("kosmos-2.5", processor_classes("kosmos-2.5")).processor == "Kosmos2_5Processor"
    thinker = processor_classes("qwen2_5_omni_thinker")
    assert _unregistered_processor("qwen2_5_omni_thinker", thinker).processor == "Qwen2_5OmniProcessor"
    # glmga's modular source derives from glm4v (first) and glm46v.
    assert modular_parents("glmga")[0] == "glm4v"
    assert processor_classes("glm4v").processor in built["glmga"]["processor"]
    # Types with a tokenizer or a processor of their own, and media-only types, are left alone.
    assert _unregistered_processor("llava", processor_classes("llava")) == processor_classes("llava")
    assert _unregistered_processor("vit", processor_classes("vit")).processor is None


def test_processor_class_named_by_override_data() -> None:
    from tinymodels.build.processor_plan import split_processor_override
    from tinymodels.knowledge import override_for

    classes, components, rest = split_processor_override({"class": "Kosmos2Processor", "num_image_tokens": 4,
                                                           "image_processor": {"class": "X", "size": 1}})
    assert classes == {"processor": "Kosmos2Processor", "image_processor": "X"}
    assert (components, rest) == ({"image_processor": {"size": 1}}, {"num_image_tokens": 4})
    override = override_for("kosmos-2")
    assert override is not None and split_processor_override(override.processor)[0]["processor"] == "Kosmos2Processor"


def test_null_processor_entries_drop_components() -> None:
    from tinymodels.build.processor_plan import split_processor_override

    classes, kwargs, rest = split_processor_override({"class": None, "feature_extractor": None,
                                                      "image_processor": {"size": 8}})
    assert classes == {"processor": None, "feature_extractor": None}
    assert kwargs == {"image_processor": {"size": 8}} and rest == {}


def test_media_only_sub_model_gets_no_tokenizer(built: dict[str, Any]) -> None:
    # A tokenizer's text attention_mask would reach the audio encoder as its audio mask.
    assert "TokenizersBackend" not in built["voxtral_encoder"]["processor"]
    assert not (built["out"] / "voxtral_encoder" / "VoxtralEncoder" / "tokenizer.json").exists()


def test_time_series_checkpoint_has_no_processor_files(built: dict[str, Any]) -> None:
    folder: Path = built["out"] / "patchtst" / "PatchTSTModel"
    assert (folder / "config.json").exists()
    assert not (folder / "preprocessor_config.json").exists()
    assert built["patchtst"]["processor"] == {}


def test_unexported_mapped_class_is_skipped_with_its_reason() -> None:
    from tinymodels.build.architectures import _unexported_architectures
    from tinymodels.config.discover import architecture_mappings

    skipped = _unexported_architectures(architecture_mappings("voxtral_realtime_text"))
    assert list(skipped) == ["VoxtralRealtimeTextModel"]
    assert "upstream limitation" in skipped["VoxtralRealtimeTextModel"]
    assert _unexported_architectures(architecture_mappings("bert")) == {}


def test_missing_library_in_processor_class_is_a_missing_dependency(built: dict[str, Any]) -> None:
    try:
        import torchaudio  # noqa: F401
    except ImportError:
        entry = built["musicgen_melody"]
        assert entry["pytorch"]
        assert {v["category"] for v in entry["pytorch"].values()} == {"missing-dependency"}
        assert all("torchaudio" in e for e in arch_errors(entry).values())
    else:
        pytest.skip("torchaudio is installed here")
