"""The 10 MB budget: counted on meta before the build, enforced on the saved weights after it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from tinymodels.build.models import MAX_WEIGHT_BYTES, ModelTooLargeError, check_size, save


class _ReadsDataWhileBuilding(torch.nn.Module):
    """A constructor that reads a tensor's value, which meta tensors do not have."""

    def __init__(self, config: Any) -> None:
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(4))
        self.steps = int(self.scale.sum().item())


class _BrokenConfig(torch.nn.Module):
    def __init__(self, config: Any) -> None:
        super().__init__()
        raise ValueError("num_heads must divide hidden_size")


class _Wide(torch.nn.Module):
    def __init__(self, config: Any) -> None:
        super().__init__()
        self.table = torch.nn.Embedding(MAX_WEIGHT_BYTES // 4 // 8 + 1, 8)


def test_only_a_meta_only_failure_counts_as_no_size() -> None:
    assert check_size(_ReadsDataWhileBuilding, None) == -1
    # Any other error would fail the real build too: it is not hidden as "no size".
    with pytest.raises(ValueError, match="num_heads must divide hidden_size"):
        check_size(_BrokenConfig, None)
    with pytest.raises(ModelTooLargeError, match="over the 10 MB budget"):
        check_size(_Wide, None)


def _bert(vocab_size: int) -> Any:
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    return BertModel(BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                intermediate_size=32, max_position_embeddings=32))


def test_saved_weights_over_the_budget_are_refused(tmp_path: Path) -> None:
    # 80,000 x 32 float32 embeddings alone are 10.2 MB: refused on the real saved file.
    with pytest.raises(ModelTooLargeError, match=r"BertModel saved 10\.\d MB of weights, over the 10 MB budget"):
        save(_bert(80_000), tmp_path / "big")
    save(_bert(1_000), tmp_path / "tiny")
    assert (tmp_path / "tiny" / "model.safetensors").stat().st_size < MAX_WEIGHT_BYTES
