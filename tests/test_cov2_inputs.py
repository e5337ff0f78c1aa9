"""Models whose forward needs more than the default processor call gives, on real builds: a
ProcessorMixin found for multimodal types that register none (glmga: GLM-4V's), generate-only models validated
by `generate` (Qwen3-Omni), video trackers run on an inference session made by their processor
(SAM 2 video), and required-but-optional forward arguments plus input aliases (Phi-4 audio)."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch

from conftest import assert_all_validate, build_in_process
from tinymodels.build.processor_plan import _unregistered_processor
from tinymodels.config.discover import modular_parents, processor_classes
from tinymodels.options import BuildOptions
from tinymodels.validate.forward import _generate_only
from tinymodels.validate.inputs import VideoSessions, model_inputs

TYPES = ("glmga", "qwen3_omni_moe", "sam2_video", "phi4_multimodal_audio")


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """glmga (the processor of its modular parent glm4v), qwen3_omni_moe (generate only), sam2_video
    (session-driven tracker), phi4_multimodal_audio (`mask` passed as None, features aliased)."""
    return build_in_process(tmp_path_factory, "cov2-inputs", TYPES)


@pytest.mark.parametrize("model_type", TYPES)
def test_every_architecture_validates(built: dict[str, Any], model_type: str) -> None:
    assert_all_validate(built[model_type])


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


def test_generate_only_models_are_detected() -> None:
    import transformers

    assert transformers.Qwen3OmniMoeForConditionalGeneration.forward is torch.nn.Module.forward
    from tinymodels.build.models import instantiate
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.config.upstream_config import tiny_config_for

    tiny, _ = tiny_config_for("bert", BuildOptions())
    bert = instantiate("BertModel", config_from_dict("bert", tiny), 0)
    assert not _generate_only(bert)


def test_video_tracker_runs_on_a_processor_made_session(built: dict[str, Any]) -> None:
    from transformers import AutoModel, AutoProcessor

    path = built["out"] / "sam2_video" / "Sam2VideoModel"
    processor = AutoProcessor.from_pretrained(path)
    model = AutoModel.from_pretrained(path).eval()
    sessions = VideoSessions(processor)
    kwargs = model_inputs(model, {"pixel_values": torch.zeros(1), "inference_session": sessions}, "Sam2VideoModel")
    assert set(kwargs) == {"inference_session", "frame_idx"}
    assert kwargs["inference_session"] is not sessions()  # a fresh session each time
    with torch.no_grad():
        out = model(**kwargs)
    assert torch.isfinite(out.pred_masks).all()


def test_optional_required_argument_gets_none(built: dict[str, Any]) -> None:
    from transformers import Phi4MultimodalAudioModel

    model = Phi4MultimodalAudioModel.from_pretrained(built["out"] / "phi4_multimodal_audio" / "Phi4MultimodalAudioModel")
    assert inspect.signature(model.forward).parameters["mask"].default is inspect.Parameter.empty
    features = torch.zeros(1, 16, 80)
    kwargs = model_inputs(model, {"audio_input_features": features}, "Phi4MultimodalAudioModel")
    assert kwargs["hidden_states"] is features and kwargs["mask"] is None


def test_structured_states_are_synthesized_as_dicts_of_pairs() -> None:
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.config.upstream_config import tiny_config_for
    from tinymodels.knowledge import override_for
    from tinymodels.validate.synthesized import synthesized_inputs

    tiny, _ = tiny_config_for("gemma4_assistant", BuildOptions())
    config = config_from_dict("gemma4_assistant", tiny)
    spec = override_for("gemma4_assistant").inputs["synthesize"]
    made = synthesized_inputs(config, {}, spec)
    kv = made["shared_kv_states"]
    assert set(kv) == {"full_attention", "sliding_attention"}
    key, value = kv["full_attention"]
    heads, head_dim = tiny["text_config"]["num_key_value_heads"], tiny["text_config"]["head_dim"]
    assert key.shape == (1, heads, 4, head_dim) and key.shape == value.shape
    assert not torch.equal(key, value)  # two draws, not one tensor twice
    assert made["inputs_embeds"].shape == (1, 1, 2 * tiny["backbone_hidden_size"])


def test_parameters_the_model_init_skips_are_seeded() -> None:
    # transformers' init never writes Qwen3-Omni's talker experts: they held stale memory (NaN on
    # some runs). Now drawn from the seeded generator: finite and identical across builds.
    from tinymodels.build.models import instantiate
    from tinymodels.config.tiny_config import config_from_dict
    from tinymodels.config.upstream_config import tiny_config_for

    tiny, _ = tiny_config_for("qwen3_omni_moe_talker_text", BuildOptions())
    config = config_from_dict("qwen3_omni_moe_talker_text", tiny)
    first, second = (instantiate("Qwen3OmniMoeTalkerModel", config, 0) for _ in range(2))
    experts = first.layers[0].mlp.experts.gate_up_proj
    assert torch.isfinite(experts).all() and 0 < experts.std() < 0.1
    assert all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True))
    assert not torch.are_deterministic_algorithms_enabled()  # the build-time switch is restored
