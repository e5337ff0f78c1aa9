"""Two builds with the same inputs produce byte-identical files."""

from __future__ import annotations

import hashlib
from pathlib import Path

from conftest import run_cli


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "reports" not in p.parts and p.name != ".tinymodels.json"
    }


def test_two_builds_are_byte_identical(built: Path, tmp_path: Path) -> None:
    """Weights, configs, tokenizers and processors: every file the same bytes."""
    again = tmp_path / "again"
    proc = run_cli("build", "bert", "vit", "wav2vec2", "-o", str(again))
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, second = _digests(built), _digests(again)
    assert any(name.endswith("model.safetensors") for name in first)
    assert first == second


def test_seed_changes_weights(built: Path, tmp_path: Path) -> None:
    other = tmp_path / "seeded"
    proc = run_cli("build", "vit", "-o", str(other), "--seed", "7")
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = (built / "vit" / "ViTModel" / "model.safetensors").read_bytes()
    b = (other / "vit" / "ViTModel" / "model.safetensors").read_bytes()
    assert a != b
