"""The sub-config walker (`config/walk.py`) on real configs: a plain one (t5), composites (llava,
blip-2), a backbone (upernet), two levels deep (t5gemma2) and a config without declared sub-configs
(rag), in every form the callers walk (dicts, objects, classes)."""

from __future__ import annotations

from typing import Any

import pytest

from tinymodels.config.discover import config_class
from tinymodels.config.walk import (
    config_tree,
    declared_sub_configs,
    is_config,
    is_subconfig,
    sub_config_classes,
    sub_dicts,
    walk,
    with_defaults,
)


def _config(model_type: str) -> Any:
    return config_class(model_type)()


def _names(configs: list[Any]) -> list[str]:
    return [type(c).__name__ for c in configs]


def test_predicates() -> None:
    llava = _config("llava")
    assert is_config(llava.vision_config) and not is_config(llava.to_dict())
    d = llava.to_dict()
    assert is_subconfig(d["vision_config"]) and is_subconfig(d)  # a whole config dict names its type too
    assert not is_subconfig({"hidden_size": 8}) and not is_subconfig(llava.vision_config)


def test_plain_config_has_no_sub_configs() -> None:
    t5 = _config("t5")
    assert config_tree(t5) == [t5]
    assert declared_sub_configs(t5) == []
    assert list(sub_dicts(t5.to_dict())) == []
    assert [d["model_type"] for d, _ in with_defaults(t5.to_dict(), {})] == ["t5"]
    assert list(sub_config_classes(type(t5))) == []


def test_composite_objects_breadth_first_by_attribute_and_depth_first_by_declaration() -> None:
    blip2 = _config("blip-2")
    # Attributes in instance order; declared sub-configs in `sub_configs` order.
    assert _names(config_tree(blip2)) == ["Blip2Config", "Blip2VisionConfig", "Blip2QFormerConfig", "OPTConfig"]
    assert _names(declared_sub_configs(blip2)) == ["OPTConfig", "Blip2VisionConfig", "Blip2QFormerConfig"]
    llava = _config("llava")
    assert config_tree(llava) == [llava, llava.vision_config, llava.text_config]


def test_nested_configs() -> None:
    t5gemma2 = _config("t5gemma2")
    # Breadth first: both halves before the encoder's own sub-configs.
    assert _names(config_tree(t5gemma2)) == ["T5Gemma2Config", "T5Gemma2EncoderConfig", "T5Gemma2DecoderConfig",
                                             "T5Gemma2TextConfig", "SiglipVisionConfig"]
    # Depth first: the encoder's sub-configs right after it.
    assert _names(declared_sub_configs(t5gemma2)) == ["T5Gemma2EncoderConfig", "T5Gemma2TextConfig",
                                                      "SiglipVisionConfig", "T5Gemma2DecoderConfig"]
    d = t5gemma2.to_dict()
    assert [s["model_type"] for s in sub_dicts(d)] == ["t5gemma2_encoder", "t5gemma2_decoder", "t5gemma2_text",
                                                       "siglip_vision_model"]
    # Innermost first, the config itself last, each with its defaults.
    pairs = with_defaults(d, t5gemma2.to_dict())
    assert [s["model_type"] for s, _ in pairs] == ["t5gemma2_text", "siglip_vision_model", "t5gemma2_encoder",
                                                   "t5gemma2_decoder", "t5gemma2"]
    assert all(s == dflt and s is not dflt for s, dflt in pairs)
    assert pairs[-1][0] is d and pairs[0][0] is d["encoder"]["text_config"]


def test_backbone_config() -> None:
    upernet = _config("upernet")
    assert _names(config_tree(upernet)) == ["UperNetConfig", "ResNetConfig"]
    assert declared_sub_configs(upernet) == [upernet.backbone_config]
    d = upernet.to_dict()
    assert list(sub_dicts(d)) == [d["backbone_config"]]
    # A sub-config the defaults lack is paired with empty defaults.
    assert with_defaults(d, {}) == [(d["backbone_config"], {}), (d, {})]


def test_undeclared_sub_configs_are_attributes_only() -> None:
    rag = _config("rag")  # RagConfig declares no `sub_configs`, yet holds two configs
    assert _names(config_tree(rag)) == ["RagConfig", "DPRConfig", "BartConfig"]
    assert declared_sub_configs(rag) == []


def test_sub_config_classes() -> None:
    blip2 = config_class("blip-2")
    found = [(key, cls.__name__) for key, cls in sub_config_classes(blip2)]
    assert found == [("qformer_config", "Blip2QFormerConfig"), ("text_config", "AutoConfig"),
                     ("vision_config", "Blip2VisionConfig")]
    # Nested classes come after every class of the level above (an owner's thinker → audio encoder).
    omni = [key for key, _ in sub_config_classes(config_class("qwen2_5_omni"))]
    assert omni[:3] == ["talker_config", "thinker_config", "token2wav_config"] and "audio_config" in omni[3:]


def test_walk_is_lazy() -> None:
    # A node edited when it is seen (an override adding a sub-config) is walked with the edit.
    d: dict[str, Any] = {"model_type": "outer", "inner": {"model_type": "inner"}}
    seen = []
    for sub in sub_dicts(d):
        seen.append(sub["model_type"])
        if sub["model_type"] == "inner":
            sub["added"] = {"model_type": "added"}
    assert seen == ["inner", "added"]


@pytest.mark.parametrize("depth_first", [False, True])
def test_walk_key_expands_each_node_once(depth_first: bool) -> None:
    # A graph with a cycle (a → b → a): with `key`, a is yielded again but not expanded again.
    graph = {"root": ["a"], "a": ["b"], "b": ["a"]}
    nodes = list(walk("root", graph.__getitem__, depth_first=depth_first, key=lambda n: n))
    assert nodes == ["a", "b", "a"]
