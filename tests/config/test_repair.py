"""Repairs that keep a shrunk config consistent (`config.repair`, owner fields of `config.tiny_config`):
fields an owner config pushes into its sub-configs, encoder-only heads, pooled image tokens, derived
ratios, label names, and layer-reference lists kept valid when the depth shrinks (Kolibri 1.1)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import transformers
from packaging.version import Version

from conftest import arch_levels, build_in_process
from tinymodels.config.repair_fields import repair_label_names
from tinymodels.config.repair_layers import repair_layer_patterns
from tinymodels.config.tiny_config import add_owner_fields, tiny_config_dict

needs_525 = pytest.mark.skipif(Version(transformers.__version__).release < (5, 25),
                               reason="kolibri1_1, pi05, ovis2_5 and llava_onevision1_5 are new in transformers 5.25")

TYPES = ("t5gemma", "pvt")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """t5gemma (encoder-only head of a seq2seq type), pvt (a config class that hides its label names)."""
    return build_in_process(tmp_path_factory, "repair", TYPES)


@pytest.mark.slow
def test_encoder_only_head_is_saved_as_encoder_only(built: dict[str, Any]) -> None:
    from transformers import AutoConfig

    folder: Path = built["out"] / "t5gemma" / "T5GemmaEncoderModel"
    assert AutoConfig.from_pretrained(folder).is_encoder_decoder is False


def test_owner_fields_complete_a_standalone_sub_config() -> None:
    from tinymodels.config.discover import config_class

    defaults = config_class("pix2struct_text_model")().to_dict()
    assert "initializer_range" not in defaults
    assert add_owner_fields("pix2struct_text_model", defaults) == ["initializer_range"]
    # Nested: t5gemma2 pushes dropout_rate into its encoder's text config.
    nested = config_class("t5gemma2_encoder")().to_dict()
    assert add_owner_fields("t5gemma2_encoder", nested) == ["text_config.dropout_rate"]
    # A type that is nobody's sub-config gets nothing.
    assert add_owner_fields("bert", config_class("bert")().to_dict()) == []


def test_pooled_image_tokens_fit_the_patch_grid() -> None:
    from tinymodels.config.repair_sizes import repair_pooled_image_tokens

    tiny = tiny_config_dict("t5gemma2_encoder")
    vision = tiny["vision_config"]
    patches = vision["image_size"] // vision["patch_size"]
    side = int(tiny["mm_tokens_per_image"] ** 0.5)
    assert side * side == tiny["mm_tokens_per_image"] and patches % side == 0 and side < patches
    d = copy.deepcopy(tiny)
    d["mm_tokens_per_image"] = 256
    repair_pooled_image_tokens(d, {})
    assert d["mm_tokens_per_image"] == tiny["mm_tokens_per_image"]


def test_mla_rotary_fraction_follows_the_shrunk_head() -> None:
    tiny = tiny_config_dict("mistral4")
    assert tiny["rope_parameters"]["partial_rotary_factor"] == pytest.approx(
        tiny["qk_rope_head_dim"] / tiny["head_dim"])


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


@needs_525
def test_kolibri_keeps_its_indexer_and_kv_sharing_layers() -> None:
    from tinymodels.config.tiny_config import tiny_config_dict

    tiny = tiny_config_dict("kolibri1_1")  # validated by the config class itself
    types, index, sources = tiny["layer_types"], tiny["index_layers"], tiny["kv_source_layers"]
    assert tiny["num_hidden_layers"] < 50
    assert index == sorted(set(index)) and all(types[i] == "indexed_attention" for i in index)
    # Some layer still reuses another's keys and values, and only an earlier one of its type.
    assert any(s != i for i, s in enumerate(sources))
    assert all(sources[s] == s and s <= i and types[s] == types[i] for i, s in enumerate(sources))


def test_reference_lists_follow_the_kept_layers() -> None:
    """Layer 7 reuses layer 2's keys and values: both are kept, and 7 names 2's new position;
    the layer-index list the shrink capped (`index_layers`) is renumbered from its default."""
    n0 = 10
    sources = list(range(n0))
    sources[7] = 2
    defaults = {"num_hidden_layers": n0, "kv_source_layers": sources, "index_layers": [2, 7],
                "layer_types": ["a"] * n0}
    tiny = {"num_hidden_layers": 2, "kv_source_layers": [min(s, 2) for s in sources], "index_layers": [2, 2],
            "layer_types": ["a"] * n0}
    repair_layer_patterns(tiny, defaults)
    n = tiny["num_hidden_layers"]
    sources = tiny["kv_source_layers"]
    assert len(sources) == n == len(tiny["layer_types"])
    assert all(sources[s] == s for s in sources)
    reusing = [i for i, s in enumerate(sources) if s != i]
    assert len(reusing) == 1 and tiny["index_layers"] == [sources[reusing[0]], reusing[0]]
