"""`--tokenizer-source original`: tiny models from original checkpoints served by the local Hub.

The local Hub serves realistic originals under the checkpoints the config classes document
(a 30k-token byte-level BPE with a chat template and added tokens, a WordPiece vocabulary, a
sentencepiece model, an image processor with non-default settings); `tinymodels build` runs as a
subprocess with the real huggingface_hub client, as a user would.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tinymodels.options import BuildOptions
from tinymodels.preprocess.originals import checkpoint_for, parse_originals
from tinymodels.run.fingerprint import TypeFacts, compute
from tinymodels.run.reports import CREATION_REPORT, SUMMARY, output_digests

from .conftest import SECRET_TOKEN, HubServer
from .originals import CHATML, GPT2_PLAIN, GPT2_SPECIALS, ORIGINALS, VIT_MEAN, VIT_STD

TYPES = tuple(ORIGINALS)


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`python -m tinymodels ARGS` with a hermetic environment plus `env` (Hub endpoint, cache, offline)."""
    leaky = ("HF_TOKEN", "GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ACTIONS", "CI", "TINYMODELS_NUM_WORKERS")
    base = {k: v for k, v in os.environ.items() if k not in leaky}
    full = {**base, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
            "HF_HUB_DISABLE_TELEMETRY": "1", **env}
    # In-process (-j 0): no worker to spawn, which keeps the file's runtime modest.
    return subprocess.run([sys.executable, "-m", "tinymodels", *args, "-j", "0"], capture_output=True, text=True,
                          env=full, timeout=600)


def _files(type_dir: Path) -> dict[str, str]:
    """sha256 of every file of a type's architecture folders (not its stamp)."""
    return {k: v for k, v in output_digests(type_dir).items() if "/" in k}


def _report(out: Path) -> dict[str, Any]:
    report = json.loads((out / "reports" / CREATION_REPORT).read_text())
    return {entry["model_type"]: entry for entry in report.values()}


class Served:
    """The local Hub holding the originals, its URL and a warm cache from one online build."""

    def __init__(self, server: HubServer, home: Path, out: Path, proc: subprocess.CompletedProcess[str]) -> None:
        self.server, self.home, self.out, self.proc = server, home, out, proc

    def env(self, home: Path | None = None, offline: bool = False) -> dict[str, str]:
        return {"HF_ENDPOINT": self.server.url, "HF_HOME": str(home or self.home), "HF_TOKEN": SECRET_TOKEN,
                "HF_HUB_OFFLINE": "1" if offline else "0"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Upload the originals to the local Hub (real client), then build every type from them."""
    from huggingface_hub import HfApi, constants

    root = tmp_path_factory.mktemp("originals")
    with HubServer() as server, pytest.MonkeyPatch.context() as mp:
        server.state.token = SECRET_TOKEN
        mp.setattr(constants, "HF_HUB_DISABLE_XET", True)  # plain regular/LFS uploads, no Xet CAS
        mp.setattr(constants, "HF_HUB_OFFLINE", False)
        api = HfApi(endpoint=server.url, token=SECRET_TOKEN)
        for model_type, (repo_id, write) in ORIGINALS.items():
            folder = write(root / "src" / model_type)
            api.create_repo(repo_id)
            api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="original")
        home, out = root / "hf_home", root / "out"
        home.mkdir()
        served = Served(server, home, out, subprocess.CompletedProcess([], 0))
        served.proc = _cli("build", *TYPES, "-o", str(out), "--tokenizer-source", "original", env=served.env())
        yield served


def test_checkpoint_is_the_documented_one_unless_mapped() -> None:
    assert checkpoint_for("gpt2") == "openai-community/gpt2"
    assert checkpoint_for("vit") == "google/vit-base-patch16-224"
    assert checkpoint_for("gpt2", parse_originals(["gpt2=/data/gpt2", "bert=org/bert"])) == "/data/gpt2"


def test_fetch_takes_tokenizer_and_processor_files_only(hub: HubServer, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import HfApi, constants

    from tinymodels.preprocess.originals import SourceError, fetch

    # The client built its download URL template from HF_ENDPOINT at import: point it here too.
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", hub.url + "/{repo_id}/resolve/{revision}/{filename}")

    folder = ORIGINALS["vit"][1](tmp_path / "vit")
    (folder / "model.safetensors").write_bytes(b"weights are never fetched")
    api = HfApi(endpoint=hub.url, token=SECRET_TOKEN)
    api.create_repo("org/vit")
    api.upload_folder(repo_id="org/vit", folder_path=folder)
    fetched = fetch("org/vit")
    assert sorted(p.name for p in fetched.iterdir()) == ["preprocessor_config.json"]
    assert fetch(str(folder)) == folder  # a local folder is read as it is
    with pytest.raises(SourceError, match="cannot fetch org/missing: RepositoryNotFoundError") as missing:
        fetch("org/missing")
    assert "Request ID" not in str(missing.value)  # reports stay identical between runs


def test_unreachable_hub_is_tried_once_per_process(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    from tinymodels.preprocess import originals

    closed = "http://127.0.0.1:9"  # discard port: connection refused
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", closed + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.setattr(originals, "_UNREACHABLE", [])
    with pytest.raises(originals.SourceError, match="cannot fetch org/a"):
        originals.fetch("org/a")
    assert originals._UNREACHABLE == ["org/a"]  # a refused connection, not offline mode
    with pytest.raises(originals.SourceError, match="unreachable earlier in this run"):
        originals.fetch("org/b")


def test_summary_merge_takes_the_rebuilds_source() -> None:
    from tinymodels.ci.summary import merge

    old = {"GPT2Model": {"tokenizer_classes": ["GPT2Tokenizer"], "model_classes": ["GPT2Model"]}}
    new = {"GPT2Model": {**old["GPT2Model"], "tokenizer_source": "original:openai-community/gpt2",
                         "processor_source": "none"}}
    assert merge(old, new)["GPT2Model"]["tokenizer_source"] == "original:openai-community/gpt2"
    assert "tokenizer_source" not in merge(old, old)["GPT2Model"]


def test_model_card_names_the_original() -> None:
    from tinymodels.hub.modelcard import render_card

    facts = {"architecture": "GPT2LMHeadModel", "tool_version": "0", "model_type": "gpt2", "vocab_size": 1024,
             "tokenizers": ["GPT2Tokenizer"], "chat_template": "original",
             "tokenizer_source": "original:openai-community/gpt2", "processor_source": "none"}
    card = render_card("org/tiny-random-GPT2LMHeadModel", facts)
    assert "tokenizer of\n`openai-community/gpt2` was retrained" in card and "trained from blank" not in card
    assert "| Tokenizer source | the original `openai-community/gpt2` |" in card and "Processor source" not in card
    blank = render_card("org/tiny-random-GPT2LMHeadModel", {**facts, "tokenizer_source": None, "chat_template": None})
    assert "trained from blank" in blank and "Tokenizer source" not in blank


def test_composite_takes_the_decoders_tokenizer_and_the_encoders_processors() -> None:
    from tinymodels.preprocess.originals import combine_records

    encoder = {"tokenizer_source": "none", "processor_source": "original:google/vit-base-patch16-224"}
    decoder = {"tokenizer_source": "blank", "processor_source": "none",
               "source_fallback": {"category": "source-fallback", "reasons": ["tokenizer: offline"]}}
    assert combine_records(encoder, decoder) == {
        "tokenizer_source": "blank", "processor_source": "original:google/vit-base-patch16-224",
        "source_fallback": {"category": "source-fallback", "reasons": ["tokenizer: offline"]}}
    assert combine_records({}, {}) == {}  # blank builds record nothing


def test_step_summary_lists_source_fallbacks() -> None:
    from tinymodels.ci.stepsummary import render_markdown

    ok = {"model": "T5Model", "checkpoint": "t5/T5Model", "params": 10, "bytes": 10, "seconds": 1.0}
    report = {"T5Config": {"model_type": "t5", "processor": {}, "pytorch": {"T5Model": ok},
                           "source_fallback": {"category": "source-fallback",
                                               "reasons": ["tokenizer: cannot fetch google-t5/t5-small"]}}}
    text = render_markdown(report, env={})
    assert "1 source fallback (built from blank instead of the original)" in text
    assert "| `t5` | tokenizer: cannot fetch google-t5/t5-small |" in text and "✅" in text  # not a failure
    assert "source fallback" not in render_markdown({"T5Config": {**report["T5Config"], "source_fallback": None}},
                                                    env={})


def test_original_flags_are_checked() -> None:
    env = {"HF_HUB_OFFLINE": "1"}
    bad = _cli("build", "gpt2", "--tokenizer-source", "original", "--original", "gpt2", env=env)
    assert bad.returncode == 2 and "TYPE=REPO_OR_PATH" in bad.stderr
    alone = _cli("build", "gpt2", "--original", "gpt2=org/gpt2", env=env)
    assert alone.returncode == 2 and "--tokenizer-source original" in alone.stderr


def test_source_is_in_the_fingerprint() -> None:
    facts = TypeFacts(("GPT2Model",))
    blank = compute("gpt2", BuildOptions(), "builtin", {}, facts)
    original = compute("gpt2", BuildOptions(tokenizer_source="original"), "builtin", {}, facts)
    mapped = compute("gpt2", BuildOptions(tokenizer_source="original", originals=(("gpt2", "org/x"),)),
                     "builtin", {}, facts)
    assert "tokenizer_source" not in blank  # blank outputs keep the fingerprints they had
    assert len({json.dumps(fp, sort_keys=True) for fp in (blank, original, mapped)}) == 3


def test_retrain_keeps_pipeline_and_is_deterministic(tmp_path: Path) -> None:
    from transformers import GPT2Tokenizer

    from tinymodels.preprocess.corpus import load_corpus
    from tinymodels.preprocess.originals import retrain

    original = GPT2Tokenizer.from_pretrained(ORIGINALS["gpt2"][1](tmp_path / "gpt2"))
    corpus = list(load_corpus("builtin"))
    one, two = retrain(original, corpus, 512), retrain(original, corpus, 512)
    assert len(one) == 512 and one.backend_tokenizer.to_str() == two.backend_tokenizer.to_str()
    assert one.chat_template == CHATML and one.eos_token == "<|endoftext|>"
    assert [t.content for t in one.added_tokens_decoder.values()] == [*GPT2_SPECIALS, *GPT2_PLAIN]


def test_processor_settings_flat_nested_or_refused(tmp_path: Path) -> None:
    from tinymodels.preprocess.originals import Source, SourceError, settings_from

    flat = ORIGINALS["vit"][1](tmp_path / "flat")
    settings = settings_from(flat, "image_processor", "ViTImageProcessor")
    assert settings["image_mean"] == VIT_MEAN and settings["resample"] == 3 and "image_processor_type" not in settings
    nested = tmp_path / "nested"  # transformers 5 saves components inside processor_config.json
    nested.mkdir()
    (nested / "processor_config.json").write_text(json.dumps(
        {"feature_extractor": {"feature_extractor_type": "WhisperFeatureExtractor", "chunk_length": 10}}))
    assert settings_from(nested, "feature_extractor", "WhisperFeatureExtractor") == {"chunk_length": 10}
    with pytest.raises(SourceError, match="no video_preprocessor_config.json"):
        settings_from(flat, "video_processor", "LlavaNextVideoVideoProcessor")
    (flat / "preprocessor_config.json").write_text(json.dumps({"size": "huge"}))
    with pytest.raises(SourceError, match="rejects"):
        settings_from(flat, "image_processor", "ViTImageProcessor")
    # Through the source, any unusable file means class defaults and a recorded fallback, never an error.
    (flat / "preprocessor_config.json").write_text("{not json")
    source = Source("vit", "original", "org/vit", flat)
    assert source.settings("image_processor", "ViTImageProcessor") == {}
    record = source.record()
    assert record["processor_source"] == "blank" and record["source_fallback"]["category"] == "source-fallback"
    assert "JSONDecodeError" in record["source_fallback"]["reasons"][0]


@pytest.mark.slow
def test_build_from_hub_originals_keeps_pipeline_tokens_and_template(served: Served) -> None:
    from transformers import AutoImageProcessor, AutoTokenizer

    assert served.proc.returncode == 0, served.proc.stderr[-3000:]
    entries = _report(served.out)
    for model_type, (repo_id, _) in ORIGINALS.items():
        entry = entries[model_type]
        failed = {a: i["error"][0] for a, i in entry["pytorch"].items() if i.get("error")}
        assert entry["pytorch"] and not failed, failed
        assert "source_fallback" not in entry, entry["source_fallback"]
        kept = "processor_source" if model_type == "vit" else "tokenizer_source"
        assert entry[kept] == f"original:{repo_id}"
    # Every validation level ran and passed, chat (with the original's template) included.
    levels = entries["gpt2"]["pytorch"]["GPT2LMHeadModel"]["levels"]
    assert set(levels) == {"load", "forward", "generate", "pipeline", "chat", "train"} and levels["chat"] == "ok"
    # The client had the token (HF_TOKEN); it appears in no output.
    for path in served.out.rglob("*"):
        assert not path.is_file() or SECRET_TOKEN.encode() not in path.read_bytes(), path
    assert SECRET_TOKEN not in served.proc.stderr + served.proc.stdout
    summary = json.loads((served.out / "reports" / SUMMARY).read_text())
    assert summary["GPT2LMHeadModel"]["tokenizer_source"] == "original:openai-community/gpt2"

    gpt2 = AutoTokenizer.from_pretrained(served.out / "gpt2" / "GPT2LMHeadModel")
    assert len(gpt2) == 1024  # from 30,000
    assert gpt2.chat_template == CHATML and entries["gpt2"]["chat_template"] == "original"
    added = {t.content: t.special for t in gpt2.added_tokens_decoder.values()}
    assert {t: True for t in GPT2_SPECIALS}.items() <= added.items()
    assert {t: False for t in GPT2_PLAIN}.items() <= added.items()
    assert type(gpt2.backend_tokenizer.pre_tokenizer).__name__ == "ByteLevel"
    assert gpt2.convert_ids_to_tokens(gpt2("a <tool_call> b")["input_ids"]).count("<tool_call>") == 1

    bert = AutoTokenizer.from_pretrained(served.out / "bert" / "BertModel")
    assert len(bert) <= 1024 and type(bert.backend_tokenizer.model).__name__ == "WordPiece"
    assert bert.backend_tokenizer.normalizer.lowercase  # the original's do_lower_case
    ids = bert("Hello")["input_ids"]
    assert (ids[0], ids[-1]) == (bert.convert_tokens_to_ids("[CLS]"), bert.convert_tokens_to_ids("[SEP]"))

    albert = AutoTokenizer.from_pretrained(served.out / "albert" / "AlbertModel")
    assert len(albert) <= 1024 and type(albert.backend_tokenizer.model).__name__ == "Unigram"
    assert albert.mask_token == "[MASK]" and albert.convert_ids_to_tokens(albert("x")["input_ids"])[0] == "[CLS]"

    vit = AutoImageProcessor.from_pretrained(served.out / "vit" / "ViTModel")
    config = json.loads((served.out / "vit" / "ViTModel" / "config.json").read_text())
    assert list(vit.image_mean) == VIT_MEAN and list(vit.image_std) == VIT_STD
    assert vit.size.height == config["image_size"] < 384  # size adapted to the tiny config, the rest kept


@pytest.mark.slow
def test_offline_warm_cache_builds_the_same_bytes(served: Served, tmp_path: Path) -> None:
    assert served.proc.returncode == 0, served.proc.stderr[-3000:]
    before = len(served.server.state.requests)
    again = tmp_path / "again"
    # Load only: validation levels do not change what is written (the stamp records them, so it is not compared).
    proc = _cli("build", "gpt2", "vit", "-o", str(again), "--tokenizer-source", "original", "--validate", "load",
                env=served.env(offline=True))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(served.server.state.requests) == before  # the cache alone served them
    entries = _report(again)
    assert entries["gpt2"]["tokenizer_source"] == "original:openai-community/gpt2"
    for model_type in ("gpt2", "vit"):  # deterministic: same originals + options -> same bytes
        first, second = (_files(out / model_type) for out in (served.out, again))
        assert first == second and len(first) > 5


@pytest.mark.slow
def test_cold_cache_offline_and_unusable_originals_fall_back(served: Served, tmp_path: Path) -> None:
    cold = tmp_path / "cold_home"
    cold.mkdir()
    out = tmp_path / "out"
    no_tokenizer = tmp_path / "no_tokenizer"  # a checkpoint folder with an image processor only
    ORIGINALS["vit"][1](no_tokenizer)
    # A template that refuses system turns (as Gemma's does): the chat level fails with the original.
    strict = ORIGINALS["gpt2"][1](tmp_path / "strict")
    (strict / "chat_template.jinja").write_text(
        "{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
        "{% for m in messages %}{{ m['content'] }}{% endfor %}")
    proc = _cli("build", "gpt2", "bert", "opt", "-o", str(out), "--validate", "load,chat",
                "--tokenizer-source", "original", "--original", f"bert={no_tokenizer}", "--original", f"opt={strict}",
                env=served.env(home=cold, offline=True))
    assert proc.returncode == 0, proc.stderr[-3000:]  # a missing or failing original never fails the run
    entries = _report(out)
    for model_type, why in (("gpt2", "cannot fetch openai-community/gpt2"), ("bert", "no tokenizer files"),
                            ("opt", "System role not supported")):
        entry = entries[model_type]
        assert entry["tokenizer_source"] == "blank"
        fallback = entry["source_fallback"]
        assert fallback["category"] == "source-fallback" and why in " ".join(fallback["reasons"]), fallback
        assert any(w.startswith("[source-fallback]") for w in entry["warnings"])
        assert all(not i.get("error") for i in entry["pytorch"].values())
    assert "offline" in " ".join(entries["gpt2"]["source_fallback"]["reasons"]).lower()
    assert SECRET_TOKEN not in (out / "reports" / CREATION_REPORT).read_text() + proc.stderr
