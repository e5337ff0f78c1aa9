"""The model types transformers 5.25 added, built for real: Kolibri 1.1 (per-layer K/V source
lists and indexer layers kept consistent when the depth shrinks), PI0.5 (synthesized action and
timestep embeddings), Ovis 2.5 (its visual vocabulary shrunk) and LLaVA-OneVision 1.5
(single-frame patches). The repair of layer-reference lists is also checked on a plain dict, on
any transformers."""

from __future__ import annotations

from typing import Any

import pytest
import transformers
from packaging.version import Version

from conftest import assert_all_validate, build_in_process
from tinymodels.config.repair_layers import repair_layer_patterns

needs_525 = pytest.mark.skipif(Version(transformers.__version__).release < (5, 25),
                               reason="kolibri1_1, pi05, ovis2_5 and llava_onevision1_5 are new in transformers 5.25")

TYPES = ("kolibri1_1", "pi05", "ovis2_5", "llava_onevision1_5")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return build_in_process(tmp_path_factory, "new525", TYPES)


@needs_525
@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_passes_every_level(built: dict[str, Any], model_type: str) -> None:
    entry = built[model_type]
    assert_all_validate(entry)
    for arch, result in entry["pytorch"].items():
        for level, outcome in result["levels"].items():
            outcomes = outcome.values() if isinstance(outcome, dict) else [outcome]
            # Only the pipelines a model that cannot generate has no use for are skipped.
            assert all(o == "ok" or (o.startswith("skipped: ") and "cannot generate" in o) for o in outcomes), \
                (arch, level, outcome)


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
