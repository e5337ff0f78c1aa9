"""The four composite models upstream builds, named, saved, reloaded and validated as upstream names them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conftest import UPSTREAM_SUMMARY
from tinymodels.build.builder import build_model_type, quiet_libraries
from tinymodels.build.composite import folder_name
from tinymodels.config.discover import COMPOSITES
from tinymodels.options import BuildOptions

pytestmark = pytest.mark.slow

# (model type, composite class, folder, processor classes upstream lists for it)
EXPECTED = [
    ("encoder-decoder", "EncoderDecoderModel", "EncoderDecoderModel-bert-bert", {"BertTokenizer"}),
    ("vision-encoder-decoder", "VisionEncoderDecoderModel", "VisionEncoderDecoderModel-vit-gpt2",
     {"ViTImageProcessor", "GPT2Tokenizer"}),
    ("speech-encoder-decoder", "SpeechEncoderDecoderModel", "SpeechEncoderDecoderModel-wav2vec2-bert",
     {"Wav2Vec2FeatureExtractor", "BertTokenizer"}),
    ("vision-text-dual-encoder", "VisionTextDualEncoderModel", "VisionTextDualEncoderModel-vit-bert",
     {"ViTImageProcessor", "BertTokenizer"}),
]


@pytest.fixture(scope="module")
def composites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str, dict[str, Any]]]:
    """All four composites built in-process once: model type -> (type dir, config class, entry)."""
    quiet_libraries()
    root = tmp_path_factory.mktemp("composites")
    out = {}
    for model_type in COMPOSITES:
        name, entry = build_model_type(model_type, BuildOptions(), root / model_type)
        out[model_type] = (root / model_type, name, entry)
    return out


@pytest.mark.parametrize(("model_type", "arch", "folder", "processors"), EXPECTED)
def test_composite_builds_and_validates(composites: dict[str, tuple[Path, str, dict[str, Any]]], model_type: str,
                                        arch: str, folder: str, processors: set[str]) -> None:
    type_dir, config_name, entry = composites[model_type]
    result = entry["pytorch"][arch]
    assert "error" not in result, result["error"][1]
    assert result["model"] == arch
    assert result["checkpoint"] == f"{model_type}/{folder}"
    assert result["params"] > 0 and result["bytes"] > 0
    assert config_name == arch.replace("Model", "Config")
    assert processors <= set(entry["processor"])
    assert entry["config_source"] == "shrunk"
    enc, dec = COMPOSITES[model_type]
    assert folder_name(arch, enc, dec) == folder
    assert sorted(p.name for p in type_dir.iterdir()) == [folder]
    assert (type_dir / folder / "model.safetensors").is_file()


def test_report_keys_follow_upstream_summary() -> None:
    """Upstream's summary keys composites by the class name; the folder keeps both type names."""
    summary = json.loads(UPSTREAM_SUMMARY.read_text())
    for _, arch, _, _ in EXPECTED:
        assert arch in summary


@pytest.mark.parametrize(("model_type", "arch", "folder", "processors"), EXPECTED)
def test_saved_folder_loads_like_a_hub_checkpoint(composites: dict[str, tuple[Path, str, dict[str, Any]]],
                                                  model_type: str, arch: str, folder: str,
                                                  processors: set[str]) -> None:
    """Auto classes load the model and both sides' processors from the one folder."""
    import transformers

    path = composites[model_type][0] / folder
    config = transformers.AutoConfig.from_pretrained(path)
    assert type(config).__name__ == composites[model_type][1]
    tokenizer = transformers.AutoTokenizer.from_pretrained(path)
    assert len(tokenizer) <= 1100
    if "ViTImageProcessor" in processors:
        assert type(transformers.AutoImageProcessor.from_pretrained(path)).__name__.startswith("ViTImageProcessor")
    if "Wav2Vec2FeatureExtractor" in processors:
        assert type(transformers.AutoFeatureExtractor.from_pretrained(path)).__name__ == "Wav2Vec2FeatureExtractor"
    if hasattr(config, "decoder"):
        # The decoder attends to the encoder, and generation knows where to start.
        assert config.decoder.is_decoder and config.decoder.add_cross_attention
        assert config.decoder_start_token_id is not None and config.pad_token_id is not None


def test_skipped_composite_is_reported_not_dropped(tmp_path: Path) -> None:
    name, entry = build_model_type("encoder-decoder", BuildOptions(skip=frozenset({"EncoderDecoderModel"})),
                                   tmp_path / "encoder-decoder")
    assert name == "EncoderDecoderConfig"
    assert "error" in entry and entry["pytorch"] == {}


def test_composites_pass_the_levels_of_their_heads(composites: dict[str, tuple[Path, str, dict[str, Any]]]) -> None:
    """Composites go through the same architecture builder as every type: the same levels run."""
    levels = {t: entry["pytorch"][a]["levels"] for t, (_, _, entry) in composites.items() for a in entry["pytorch"]}
    # The generative composites decode: generate, a chat round with the decoder's template, a train step.
    for model_type in ("encoder-decoder", "vision-encoder-decoder", "speech-encoder-decoder"):
        assert levels[model_type]["train"] == "ok", model_type
    assert levels["encoder-decoder"]["chat"] == "ok"
    assert levels["vision-encoder-decoder"]["chat"] == "ok"
    assert levels["speech-encoder-decoder"]["pipeline"] == {"automatic-speech-recognition": "ok"}
    _, _, entry = composites["vision-encoder-decoder"]
    assert entry["chat_template"]
    assert (composites["vision-encoder-decoder"][0] / "VisionEncoderDecoderModel-vit-gpt2" / "chat_template.jinja").is_file()
