"""``em-monitor demo --lora-rank``: adapters on every linear layer, the base frozen, and the monitor reading the wrapped model."""

from __future__ import annotations

import pytest
import torch

from em_monitor.finetune.lora import with_lora
from em_monitor.runtime.capture import decoder_blocks, residuals_at
from em_monitor.tiny import tiny_llama


def test_only_the_adapters_train_and_every_linear_layer_of_the_blocks_has_one():
    pytest.importorskip("peft")
    base = tiny_llama()
    blocks = len(decoder_blocks(base))
    ids = torch.tensor([[1, 5, 9, 2]])
    before = residuals_at(base, 1, ids, torch.ones_like(ids))
    wrapped = with_lora(base, 4)  # peft wraps the model in place
    trainable = [name for name, parameter in wrapped.named_parameters() if parameter.requires_grad]
    assert trainable and all("lora_" in name for name in trainable)
    # q, k, v, o and the three MLP projections in every block, an A and a B each.
    assert len(trainable) == blocks * 7 * 2
    # The monitor finds the blocks through the wrapper, and a fresh adapter (B = 0) leaves the activations as they were.
    assert len(decoder_blocks(wrapped)) == blocks
    assert torch.allclose(residuals_at(wrapped, 1, ids, torch.ones_like(ids)), before)


def test_a_rank_below_one_is_refused_naming_the_flag():
    pytest.importorskip("peft")
    with pytest.raises(ValueError, match="--lora-rank"):
        with_lora(tiny_llama(), 0)
