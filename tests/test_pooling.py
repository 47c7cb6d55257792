"""Pooling matches a plain per-row loop, and empty rows are NaN, not invented numbers."""

import pytest
import torch

from em_monitor.runtime.pooling import POOLING_METHODS, pool


def _reference(activations, mask, method):
    rows = []
    for row, row_mask in zip(activations, mask):
        selected = row[row_mask]
        if len(selected) == 0:
            rows.append(torch.full((activations.shape[-1],), float("nan")))
        elif method == "mean":
            rows.append(selected.mean(0))
        elif method == "max":
            rows.append(selected.max(0).values)
        else:
            rows.append(selected[-1])
    return torch.stack(rows)


@pytest.mark.parametrize("method", POOLING_METHODS)
def test_pool_matches_reference(method):
    generator = torch.Generator().manual_seed(0)
    activations = torch.randn(5, 9, 16, generator=generator)
    mask = torch.rand(5, 9, generator=generator) > 0.4
    mask[3] = False
    expected = _reference(activations, mask, method)
    got = pool(activations, mask, method)
    assert torch.allclose(got, expected, atol=1e-6, equal_nan=True)
    assert torch.isnan(got[3]).all() and torch.isfinite(got[[0, 1, 2, 4]]).all()


def test_masked_out_attention_sink_does_not_move_the_mean():
    activations = torch.ones(1, 4, 3)
    activations[0, 0] = 1000.0  # an attention-sink position with a huge norm
    mask = torch.tensor([[False, True, True, True]])
    assert torch.equal(pool(activations, mask, "mean"), torch.ones(1, 3))


def test_unknown_pooling_lists_choices():
    with pytest.raises(ValueError, match="mean, max, last"):
        pool(torch.zeros(1, 2, 3), torch.ones(1, 2, dtype=torch.bool), "median")


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="does not match"):
        pool(torch.zeros(2, 3, 4), torch.ones(2, 4, dtype=torch.bool), "mean")
