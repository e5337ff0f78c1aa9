"""The knowledge schema: every shipped file fits it, typos and cross-file conflicts are refused."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib import resources

import jsonschema
import pytest

from tinymodels import knowledge
from tinymodels.errors import KnowledgeError

REASON = "an upstream reason long enough to explain the entry"


@pytest.mark.parametrize("name", knowledge.resource_names())
def test_every_shipped_file_fits_the_schema(name: str) -> None:
    text = resources.files("tinymodels.knowledge").joinpath("resources", name).read_text(encoding="utf-8")
    assert knowledge.schema_errors(name, knowledge.load_yaml_text(text)) == []


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    schema = json.loads(resources.files("tinymodels.knowledge").joinpath("resources", knowledge.SCHEMA).read_text("utf-8"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    jsonschema.Draft202012Validator.check_schema(schema)


def test_a_misspelt_key_is_refused_with_the_close_match_and_its_path() -> None:
    data = knowledge.load_yaml_text(f"""
overrides:
  lxmert:
    reason: {REASON}
    inputs:
      synthesise:
        visual_feats: {{shape: [batch, 4, visual_feat_dim], fill: randn}}
""")
    with pytest.raises(KnowledgeError) as caught:
        knowledge.validate_resource("overrides-inputs.yaml", data)
    assert "overrides-inputs.yaml: overrides.lxmert.inputs: unknown key 'synthesise' (did you mean 'synthesize'?)" \
        in str(caught.value)
    assert caught.value.return_code == 7


def test_a_typo_inside_a_per_architecture_list_names_the_entry() -> None:
    # `synthesize` values may be one entry or a list of them (oneOf): the closest branch is reported.
    data = {"overrides": {"speecht5": {"reason": REASON, "inputs": {"synthesize": {
        "speaker_embeddings": [{"shape": ["batch", 4], "fil": "zeros"}]}}}}}
    with pytest.raises(KnowledgeError, match=r"overrides\.speecht5\.inputs\.synthesize\.speaker_embeddings\[0\]: "
                                             r"unknown key 'fil' \(did you mean 'fill'\?\)"):
        knowledge.validate_resource("overrides-inputs.yaml", data)


def test_wrong_types_and_missing_reasons_are_refused() -> None:
    problems = knowledge.schema_errors("overrides-size.yaml", {"overrides": {
        "bert": {"image_size": "big", "reason": REASON}, "gpt2": {"keep": ["n_embd"]}}})
    assert any("overrides.bert.image_size: 'big' is not of type 'integer'" in p for p in problems), problems
    assert any("overrides.gpt2" in p and "'reason' is a required property" in p for p in problems), problems
    heads = knowledge.schema_errors("train.yaml", {"heads": {"MODEL_FOR_CTC_MAPPING_NAMES": "labels"}})
    assert heads and "train.yaml: heads.MODEL_FOR_CTC_MAPPING_NAMES" in heads[0]


def test_a_file_without_a_schema_entry_is_refused() -> None:
    with pytest.raises(KnowledgeError, match=r"speculative\.yaml: not a knowledge file"):
        knowledge.validate_resource("speculative.yaml", {"drafts": {}})


def test_a_key_set_by_two_override_files_is_refused() -> None:
    first = {"overrides": {"bert": {"reason": REASON, "config": {"hidden_size": 32, "num_labels": 2}}}}
    second = {"overrides": {"bert": {"reason": REASON, "config": {"hidden_size": 64}}}}
    with pytest.raises(KnowledgeError, match=r"overrides-size\.yaml: overrides\.bert\.config\.hidden_size is also "
                                             r"set by overrides-config\.yaml"):
        knowledge.merge_overrides({"overrides-config.yaml": first, "overrides-size.yaml": second})
    # Different keys of one type in two files merge (and reasons join), as the topical files rely on.
    third = {"overrides": {"bert": {"reason": "another reason", "config": {"intermediate_size": 64}, "keep": ["x"]}}}
    merged = knowledge.merge_overrides({"overrides-config.yaml": first, "overrides-size.yaml": third})
    assert merged["bert"]["config"] == {"hidden_size": 32, "num_labels": 2, "intermediate_size": 64}
    assert merged["bert"]["reason"] == f"{REASON} another reason"


def test_a_scalar_set_by_two_override_files_is_refused() -> None:
    files = {f"overrides-{n}.yaml": {"overrides": {"vit": {"reason": REASON, "image_size": s}}} for n, s in
             (("size", 64), ("vision", 64))}
    with pytest.raises(KnowledgeError, match=r"overrides\.vit\.image_size is also set by overrides-size\.yaml"):
        knowledge.merge_overrides(files)


def test_the_module_validates_every_shipped_file() -> None:
    proc = subprocess.run([sys.executable, "-m", "tinymodels.knowledge"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"{len(knowledge.resource_names())} knowledge files valid" in proc.stdout
