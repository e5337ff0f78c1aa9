"""`tinymodels build` from the outside: arguments, errors and what lands on disk."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli
from tinymodels.cli import build_parser
from tinymodels.commands.build import options_from_args
from tinymodels.errors import UsageError


@pytest.mark.slow  # the CLI in a subprocess, importing transformers
def test_unknown_type_names_close_matches_and_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = run_cli("build", "bertt", "gpt-2", "-o", str(out))
    assert proc.returncode == 2
    assert "'bertt'" in proc.stderr and "did you mean" in proc.stderr and "'bert'" in proc.stderr
    assert "'gpt2'" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["build"], "name model types"),
        (["build", "bert", "--vocab-size", "0"], "--vocab-size"),
        (["build", "bert", "--num-workers", "-1"], "--num-workers"),
        (["build", "bert", "--upload"], "--organization"),
        (["build", "--all", "bert", "gpt2"], "--all"),
    ],
)
def test_bad_arguments_exit_2(argv: list[str], message: str, tmp_path: Path) -> None:
    proc = run_cli(*argv, "-o", str(tmp_path / "o"))
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert not (tmp_path / "o").exists()


def test_unknown_flag_is_usage_error() -> None:
    proc = run_cli("build", "bert", "--vocab", "10")
    assert proc.returncode == 2
    assert "unrecognized arguments" in proc.stderr and "--help" in proc.stderr


@pytest.mark.slow  # the CLI in a subprocess, importing transformers
def test_unwritable_output_dir(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = run_cli("build", "bert", "-o", str(blocker / "sub"))
    assert proc.returncode == 3
    assert "cannot write to output directory" in proc.stderr
    assert blocker.read_text() == "not a directory"


def test_upstream_spellings_resolve_like_ours() -> None:
    parser = build_parser()
    ours = options_from_args(parser.parse_args(["build", "bert", "gpt2", "-o", "out", "--skip", "BertModel"]))
    theirs = options_from_args(parser.parse_args(
        ["build", "--model_types", "bert,gpt2", "--models_to_skip", "BertModel", "--num_workers", "1", "out"]))
    assert ours == theirs
    assert ours.model_types == ("bert", "gpt2")
    assert ours.output == Path("out")


def test_all_with_positional_output() -> None:
    opts = options_from_args(build_parser().parse_args(["build", "--all", "./somewhere"]))
    assert opts.output == Path("./somewhere")
    assert len(opts.model_types) > 500 and "bert" in opts.model_types


def test_duplicates_are_dropped_in_order() -> None:
    opts = options_from_args(build_parser().parse_args(["build", "gpt2", "bert", "gpt2"]))
    assert opts.model_types == ("gpt2", "bert")


def test_usage_error_is_value_error() -> None:
    with pytest.raises(UsageError):
        options_from_args(build_parser().parse_args(["build"]))


def test_help_reads_well() -> None:
    proc = run_cli("build", "--help")
    assert proc.returncode == 0
    for flag in ("--all", "--output", "--skip", "--vocab-size", "--corpus", "--seed", "--num-workers", "Examples:"):
        assert flag in proc.stdout


def test_build_layout_and_validation(built: Path) -> None:
    """Every architecture folder holds weights, config and processor files loadable via Auto classes."""
    from transformers import (
        AutoConfig,
        AutoFeatureExtractor,
        AutoImageProcessor,
        AutoProcessor,
        AutoTokenizer,
    )

    report = json.loads((built / "reports" / "tiny_model_creation_report.json").read_text())
    assert set(report) == {"BertConfig", "ViTConfig", "Wav2Vec2Config"}
    for entry in report.values():
        for arch, info in entry["pytorch"].items():
            assert "error" not in info, (arch, info.get("error"))
            folder = built / info["checkpoint"]
            assert (folder / "model.safetensors").is_file()
            assert AutoConfig.from_pretrained(folder).architectures == [arch]
            assert info["params"] > 0 and info["bytes"] > 0
    tok = AutoTokenizer.from_pretrained(built / "bert" / "BertModel")
    assert len(tok) <= 1024
    assert report["BertConfig"]["vocab_size"] == len(tok)
    AutoImageProcessor.from_pretrained(built / "vit" / "ViTModel")
    proc = AutoProcessor.from_pretrained(built / "wav2vec2" / "Wav2Vec2ForCTC")
    assert type(proc).__name__ == "Wav2Vec2Processor"
    assert (built / "wav2vec2" / "Wav2Vec2ForCTC" / "processor_config.json").is_file()
    AutoFeatureExtractor.from_pretrained(built / "wav2vec2" / "Wav2Vec2Model")
