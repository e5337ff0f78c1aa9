"""Fixtures for the Hub upload tests: a local Hub server and a tiny built output dir."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for `hubserver`

from hubserver import HubServer  # noqa: E402

# Looks like a real token so that masking and leak checks are meaningful.
SECRET_TOKEN = "hf_TESTSECRETtoken0123456789abcdefXYZ"
ORG = "org"
OK_ARCHS = ("BertForMaskedLM", "BertModel")


@pytest.fixture
def hub(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[HubServer]:
    """A fresh local Hub on 127.0.0.1 that the real huggingface_hub client talks to."""
    from huggingface_hub import constants

    with HubServer() as server:
        server.state.token = SECRET_TOKEN
        home = tmp_path / "hf_home"
        home.mkdir()
        env = {
            "HF_ENDPOINT": server.url,
            "HF_HOME": str(home),  # never pick up a developer's stored token
            "HF_TOKEN": SECRET_TOKEN,
            "HF_HUB_DISABLE_XET": "1",  # plain regular/LFS path, no Xet CAS
            "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1",
            "TINYMODELS_UPLOAD_BACKOFF": "0.05",  # keep retries fast; Retry-After is still honoured
        }
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        # tests/conftest.py makes every test offline; these tests talk to 127.0.0.1 only.
        monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
        if hasattr(constants, "HF_HUB_OFFLINE"):
            monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        # The client read these at import time; redirect the in-process copy too.
        monkeypatch.setattr(constants, "ENDPOINT", server.url)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
        yield server


def _save_model(folder: Path, cls_name: str, seed: int) -> int:
    import torch
    import transformers
    from transformers import BertConfig

    config = BertConfig(vocab_size=99, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=16, max_position_embeddings=32)
    torch.manual_seed(seed)
    model = getattr(transformers, cls_name)(config)
    model.save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def build_output(root: Path, seed: int = 0) -> Path:
    """An output dir shaped like `tinymodels build bert`: two OK archs, one failed arch
    that left a half-built folder, a stray folder the report does not know, reports."""
    from tinymodels.run.reports import write_reports

    out = root / "out"
    pytorch = {}
    for arch in OK_ARCHS:
        params = _save_model(out / "bert" / arch, arch, seed)
        pytorch[arch] = {"model": arch, "checkpoint": f"bert/{arch}", "params": params, "bytes": 1, "seconds": 0.1}
    # Failed arch: its folder exists (half-built) but must never be uploaded.
    half = out / "bert" / "BertForSequenceClassification"
    half.mkdir(parents=True)
    (half / "config.json").write_text("{}")
    pytorch["BertForSequenceClassification"] = {"model": None, "checkpoint": None,
                                                "error": ["boom", "Traceback ..."], "category": "model"}
    stale = out / "bert" / "BertForStale"
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    (out / "bert" / ".tinymodels.json").write_text(json.dumps({"seed": seed, "tinymodels_version": "0.1.0"}))
    report = {"BertConfig": {"processor": {}, "pytorch": pytorch, "vocab_size": 99, "model_type": "bert"}}
    write_reports(out / "reports", report)
    return out


@pytest.fixture(scope="session")
def _built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_output(tmp_path_factory.mktemp("built"))


@pytest.fixture
def output(_built: Path, tmp_path: Path) -> Path:
    """A private copy of the built output dir (uploads rewrite its reports)."""
    dest = tmp_path / "out"
    shutil.copytree(_built, dest)
    return dest
