"""Discovery: model types, architectures (auto mappings, then the package scan) and processors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tinymodels.config.discover import (
    architecture_mappings,
    architectures_for,
    owner_model_type,
    package_model_classes,
    processor_classes,
    resolve_model_types,
)
from tinymodels.errors import UnknownModelTypeError


def test_mapped_types_keep_their_auto_mappings() -> None:
    mappings = architecture_mappings("bert")
    assert next(iter(mappings)) == "BertModel"
    assert mappings["BertModel"][0] == "MODEL_MAPPING_NAMES"
    assert "MODEL_FOR_MASKED_LM_MAPPING_NAMES" in mappings["BertForMaskedLM"]


@pytest.mark.parametrize(("model_type", "expected"), [
    ("siglip_text_model", ["SiglipTextModel"]),
    ("clap_audio_model", ["ClapAudioModel", "ClapAudioModelWithProjection"]),
    # The abstract BlipTextPreTrainedModel shares the config class but is no architecture.
    ("blip_text_model", ["BlipTextLMHeadModel", "BlipTextModel"]),
    # A deprecated alias subclass (Ernie4_5_VL_MoeTextModel) is not built twice.
    ("ernie4_5_vl_moe_text", ["Ernie4_5_VLMoeTextModel"]),
])
def test_sub_config_types_get_the_classes_of_their_config(model_type: str, expected: list[str]) -> None:
    mappings = architecture_mappings(model_type)
    assert list(mappings) == expected
    # No auto mapping registers them: they reload through the class itself.
    assert all(m == () for m in mappings.values())
    assert architectures_for(model_type) == expected


def test_package_scan_is_deterministic() -> None:
    first = package_model_classes("clvp_decoder")
    package_model_classes.cache_clear()
    assert package_model_classes("clvp_decoder") == first == tuple(sorted(first))


def test_types_with_no_model_class_have_no_architecture() -> None:
    # SamPromptEncoder is a plain nn.Module, not a PreTrainedModel.
    assert architecture_mappings("sam_prompt_encoder") == {}


def test_unknown_type_names_close_matches() -> None:
    with pytest.raises(UnknownModelTypeError, match="did you mean 'clip_text_model'"):
        resolve_model_types(["clip_text_modle"])
    assert resolve_model_types(["clip_text_model", "bert", "clip_text_model"]) == ["clip_text_model", "bert"]


def test_sub_config_types_inherit_their_owners_processors() -> None:
    vision = processor_classes("blip_vision_model")
    assert owner_model_type("blip_vision_model") == "blip"
    assert (vision.inherited_from, vision.image_processor, vision.tokenizer, vision.processor) == (
        "blip", "BlipImageProcessor", None, None)
    # A sub-config with a vocabulary is the text side: the owner's tokenizer only.
    text = processor_classes("clip_text_model")
    assert (text.tokenizer, text.image_processor, text.inherited_from) == ("CLIPTokenizer", None, "clip")
    audio = processor_classes("clap_audio_model")
    assert (audio.feature_extractor, audio.tokenizer) == ("ClapFeatureExtractor", None)
    # Registered types are untouched.
    assert processor_classes("bert").inherited_from is None


@pytest.mark.slow
def test_a_sub_config_type_builds_and_validates(tmp_path: Path) -> None:
    from tinymodels.build.builder import build_model_type, quiet_libraries
    from tinymodels.options import BuildOptions

    quiet_libraries()
    _, entry = build_model_type("blip_vision_model", BuildOptions(), tmp_path / "blip_vision_model")
    result = entry["pytorch"]["BlipVisionModel"]
    assert "error" not in result, result["error"]
    assert entry["processor"] == {"BlipImageProcessor": "BlipImageProcessor"}
    assert (tmp_path / "blip_vision_model" / "BlipVisionModel" / "preprocessor_config.json").is_file()


@pytest.mark.slow  # resolves the config class of every model type
def test_alias_types_sharing_a_config_class_are_built_once() -> None:
    """gpt-sw3 reuses GPT2Config: building both would make one report entry overwrite the other."""
    from tinymodels.config.discover import config_class, resolve_model_types

    every = resolve_model_types([], all_types=True)
    names = [config_class(t).__name__ for t in every]
    assert len(names) == len(set(names))
    assert "gpt2" in every and "gpt-sw3" not in every
    assert resolve_model_types(["gpt-sw3", "gpt2"]) == ["gpt2"]
    assert resolve_model_types(["gpt-sw3"]) == ["gpt-sw3"]
