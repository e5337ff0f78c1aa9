"""The data files: every override is well-formed, has a reason, and no key is given twice."""

from __future__ import annotations

from importlib import resources

import pytest
import yaml

from tinymodels import knowledge
from tinymodels.config.discover import all_model_types


def _resource_names() -> list[str]:
    return sorted(p.name for p in resources.files("tinymodels.knowledge").joinpath("resources").iterdir()
                  if p.name.endswith(".yaml"))


@pytest.mark.parametrize("name", _resource_names())
def test_data_files_have_no_duplicate_keys(name: str) -> None:
    text = resources.files("tinymodels.knowledge").joinpath("resources", name).read_text(encoding="utf-8")
    assert isinstance(knowledge.load_yaml_text(text), dict)


def test_duplicate_keys_are_refused_but_merge_keys_may_be_overridden() -> None:
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate key 'bert'"):
        knowledge.load_yaml_text("overrides:\n  bert: {reason: a}\n  gpt2: {reason: b}\n  bert: {reason: c}\n")
    merged = knowledge.load_yaml_text("base: &b {reason: x, image_size: 64}\nvit: {<<: *b, image_size: 128}\n")
    assert merged["vit"] == {"reason": "x", "image_size": 128}


def test_every_override_names_a_known_type_and_gives_a_reason() -> None:
    known = set(all_model_types())
    entries = knowledge.overrides()
    assert len(entries) > 100
    assert not sorted(set(entries) - known)
    assert all(len(o.reason.split()) >= 5 for o in entries.values())


def test_overrides_of_one_type_merge_across_files() -> None:
    # A type may have entries in several topical files: every file's fields apply.
    per_file = {n: knowledge.load_yaml_text(resources.files("tinymodels.knowledge").joinpath("resources", n)
                                            .read_text(encoding="utf-8")).get("overrides") or {}
                for n in _resource_names() if n.startswith("overrides")}
    shared = sorted({t for a in per_file.values() for t in a
                     if sum(t in b for b in per_file.values()) > 1})
    assert shared
    for model_type in shared:
        merged = knowledge.overrides()[model_type]
        for entries in per_file.values():
            for field, value in entries.get(model_type, {}).items():
                if field == "reason":
                    assert " ".join(str(value).split()) in merged.reason
                elif isinstance(value, dict):
                    assert set(value) <= set(getattr(merged, field)), (model_type, field)
