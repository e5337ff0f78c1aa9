"""Model card rendering and the pure helpers of the upload module (no server)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest
from huggingface_hub import ModelCard
from huggingface_hub.errors import HfHubHTTPError

from tinymodels import __version__
from tinymodels.hub.modelcard import model_card, pipeline_tag_for
from tinymodels.hub.session import is_transient, mask_token, retry_after
from tinymodels.hub.upload import find_targets, repo_id_for

ENTRY = {"processor": {"BertTokenizer": "BertTokenizer", "ViTImageProcessor": "ViTImageProcessor"},
         "vocab_size": 1024, "model_type": "bert"}
INFO = {"model": "BertForMaskedLM", "checkpoint": "bert/BertForMaskedLM", "params": 123456}


def _folder(tmp_path: Path, meta: dict | None) -> Path:
    folder = tmp_path / "bert" / "BertForMaskedLM"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"model_type": "bert", "transformers_version": "5.24.0"}))
    if meta is not None:
        (folder.parent / ".tinymodels.json").write_text(json.dumps(meta))
    return folder


def test_card_metadata_and_facts(tmp_path):
    folder = _folder(tmp_path, {"fingerprint": "x", "options": {"seed": 7, "config_source": "tests"}})
    text = model_card(folder, "org/tiny-random-BertForMaskedLM", "BertForMaskedLM", INFO, ENTRY, "BertConfig")
    data = ModelCard(text).data.to_dict()
    assert data["library_name"] == "transformers" and data["pipeline_tag"] == "fill-mask"
    assert {"tiny-random", "tinymodels", "testing"} <= set(data["tags"])
    for fact in (f"tinymodels {__version__}", "| transformers version | 5.24.0 |", "| Seed | 7 |",
                 "| Config source | tests |", "| Vocabulary size | 1024 |", "| Parameters | 123,456 |",
                 "`BertTokenizer`", "`ViTImageProcessor`", 'BertForMaskedLM.from_pretrained("org/tiny-random-'):
        assert fact in text, fact


def test_card_reads_the_runner_stamp(tmp_path):
    stamp = {"format": 1, "config_class": "BertConfig", "entry": {},
             "fingerprint": {"tinymodels": "9.9.9", "transformers": "5.0.0", "seed": 3, "corpus": "builtin",
                             "override": {"reason": "x"}}}
    folder = _folder(tmp_path, stamp)
    text = model_card(folder, "org/tiny-random-BertForMaskedLM", "BertForMaskedLM", INFO, ENTRY, "BertConfig")
    for fact in ("tinymodels 9.9.9", "| Seed | 3 |", "| Tokenizer corpus | builtin |",
                 "`BertConfig` defaults, shrunk by tinymodels (with model-specific overrides)",
                 "| transformers version | 5.24.0 |"):  # config.json's own version wins
        assert fact in text, fact


def test_card_is_deterministic_and_tolerates_missing_metadata(tmp_path):
    folder = _folder(tmp_path, None)
    args = (folder, "org/tiny-random-BertForMaskedLM", "BertForMaskedLM", {"model": "BertForMaskedLM"}, {})
    first, second = model_card(*args), model_card(*args)
    assert first == second
    assert "Seed" not in first and "Parameters" not in first  # unknown facts are left out, not invented


@pytest.mark.parametrize(("arch", "tag"), [
    ("GPT2LMHeadModel", "text-generation"), ("LlamaForCausalLM", "text-generation"),
    ("BertForSequenceClassification", "text-classification"), ("ViTForImageClassification", "image-classification"),
    ("CLIPForZeroShotImageClassification", "zero-shot-image-classification"), ("BertModel", "feature-extraction"),
    ("Wav2Vec2ForCTC", "automatic-speech-recognition"), ("VisionEncoderDecoderModel-vit-gpt2", "image-to-text"),
    ("T5ForConditionalGeneration", None), ("BertForPreTraining", None),
])
def test_pipeline_tags(arch, tag):
    assert pipeline_tag_for(arch) == tag


def test_targets_only_ok_existing_folders_inside_output(tmp_path):
    out = tmp_path / "out"
    for d in ("bert/BertModel", "bert/BertForMaskedLM", "encoder-decoder/EncoderDecoderModel-bert-bert"):
        (out / d).mkdir(parents=True)
        (out / d / "config.json").write_text("{}")
    report = {
        "BertConfig": {"pytorch": {
            "BertModel": {"model": "BertModel", "checkpoint": "bert/BertModel"},
            "BertForMaskedLM": {"model": None, "checkpoint": None, "error": ["x", None]},
            "BertForCausalLM": {"model": "BertForCausalLM", "checkpoint": "bert/BertForCausalLM"},  # no folder
            "Evil": {"model": "Evil", "checkpoint": "../../etc"},
        }},
        "EncoderDecoderConfig": {"pytorch": {"EncoderDecoderModel": {
            "model": "EncoderDecoderModel", "checkpoint": "encoder-decoder/EncoderDecoderModel-bert-bert"}}},
    }
    targets, warnings = find_targets(out, report)
    assert [t.model_dir for t in targets] == ["bert/BertModel", "encoder-decoder/EncoderDecoderModel-bert-bert"]
    assert len(warnings) == 2
    assert repo_id_for("org", targets[1].folder.name) == "org/tiny-random-EncoderDecoderModel-bert-bert"


def _http_error(status: int, headers: dict[str, str] | None = None) -> HfHubHTTPError:
    request = httpx2.Request("POST", "http://127.0.0.1/api/x")
    return HfHubHTTPError("boom", response=httpx2.Response(status, headers=headers, request=request))


def test_retry_classification_and_retry_after():
    assert is_transient(_http_error(503)) and is_transient(_http_error(429))
    assert not is_transient(_http_error(401)) and not is_transient(_http_error(404))
    assert is_transient(httpx2.ReadTimeout("slow")) and is_transient(httpx2.RemoteProtocolError("gone"))
    wrapped = RuntimeError("Error while uploading")
    wrapped.__cause__ = _http_error(502)
    assert is_transient(wrapped) and not is_transient(ValueError("bad yaml"))
    assert retry_after(_http_error(429, {"Retry-After": "7"})) == 7.0
    assert 0 <= retry_after(_http_error(429, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})) < 1
    assert retry_after(_http_error(503)) is None


def test_mask_token():
    assert mask_token("hf_abcdefghijkl") == "hf_***" and mask_token("secret") == "***"
