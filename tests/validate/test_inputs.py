"""Inputs the processors cannot produce: synthesized from the config (only where declared) and
config fields an input path needs, checked on real model types built end to end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from conftest import assert_all_validate, build_in_process
from tinymodels.knowledge import override_for
from tinymodels.validate.levels import ValidationError
from tinymodels.validate.synthesized import synthesized_inputs


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One real build per mechanism: lxmert (synthesized visual features), xmod (default language
    from the config), mpnet (kept bucket count its forward hard-codes)."""
    return build_in_process(tmp_path_factory, "inputs", ("lxmert", "xmod", "mpnet"))


@pytest.mark.parametrize("model_type", ["lxmert", "xmod", "mpnet"])
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


def test_xmod_checkpoint_names_its_default_language(built: dict[str, Any]) -> None:
    # The saved checkpoint itself runs without lang_ids, not just our validation call.
    from transformers import AutoConfig

    folder: Path = built["out"] / "xmod" / "XmodModel"
    assert AutoConfig.from_pretrained(folder).default_language == "en_XX"


def test_synthesized_inputs_follow_config_dims_and_are_seeded() -> None:
    from transformers import LxmertConfig

    config = LxmertConfig(visual_feat_dim=12, visual_pos_dim=4)
    spec = override_for("lxmert").inputs["synthesize"]
    kwargs = {"input_ids": torch.ones(2, 5, dtype=torch.long)}
    first = synthesized_inputs(config, kwargs, spec)
    assert first["visual_feats"].shape == (2, 4, 12)
    assert first["visual_pos"].shape == (2, 4, 4)
    assert 0 <= first["visual_pos"].min() and first["visual_pos"].max() < 1  # normalized boxes
    again = synthesized_inputs(config, kwargs, spec)
    assert torch.equal(first["visual_feats"], again["visual_feats"])


def test_synthesis_never_replaces_a_processor_input() -> None:
    from transformers import LxmertConfig

    given = torch.zeros(1, 4, 8)
    out = synthesized_inputs(LxmertConfig(visual_feat_dim=8), {"visual_feats": given},
                             {"visual_feats": {"shape": ["batch", 4, "visual_feat_dim"]}})
    assert out == {}


def test_unknown_config_dim_is_an_error() -> None:
    from transformers import LxmertConfig

    with pytest.raises(ValidationError, match="no 'not_a_field'"):
        synthesized_inputs(LxmertConfig(), {}, {"x": {"shape": [1, "not_a_field"]}})
