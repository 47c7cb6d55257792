"""Signals equal their reference implementations: sae-lens encode, scikit-learn probes, projections."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from em_monitor.runtime.pooling import pool
from em_monitor.runtime.signals import (
    DirectionSignal,
    ProbeSignal,
    SaeLatentSignal,
    SignalSet,
)


def _random_sae(architecture, d_in=32, d_sae=256, seed=0):
    from sae_lens.registry import get_sae_class

    sae_class, config_class = get_sae_class(architecture)
    extra = {"k": 8} if architecture == "topk" else {}
    sae = sae_class(config_class(d_in=d_in, d_sae=d_sae, **extra))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in sae.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
        if architecture == "jumprelu":
            sae.threshold.copy_(torch.rand(d_sae, generator=generator) * 0.5)
    return sae.eval()


@pytest.mark.parametrize("architecture", ["standard", "jumprelu", "topk"])
def test_watched_latents_equal_full_encode(architecture):
    sae = _random_sae(architecture)
    latents = {"a": 3, "b": 200, "c": 17}
    signal = SaeLatentSignal(sae, latents, pooling="max")
    assert signal.sliced == (architecture != "topk")
    activations = torch.randn(4, 7, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = sae.encode(activations)[..., list(latents.values())]
    watched = signal.encode_watched(activations)
    assert torch.allclose(watched, expected, atol=1e-5)
    assert (expected > 0).any(), "the comparison must include active latents"
    mask = torch.ones(4, 7, dtype=torch.bool)
    assert torch.allclose(signal.score(activations, mask), pool(expected, mask, "max"), atol=1e-5)


def test_out_of_range_latent_is_rejected():
    with pytest.raises(ValueError, match="out of range"):
        SaeLatentSignal(_random_sae("standard"), {"x": 256})


def test_probe_equals_sklearn_predict_proba():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(200, 32)).astype(np.float32)
    labels = (features[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression(max_iter=1000).fit(features, labels)
    signal = ProbeSignal("p", torch.from_numpy(model.coef_[0]), torch.from_numpy(model.intercept_), pooling="mean")
    # One token per sample: mean pooling returns the features unchanged.
    activations = torch.from_numpy(features).unsqueeze(1)
    scores = signal.score(activations, torch.ones(200, 1, dtype=torch.bool)).squeeze(-1).numpy()
    assert np.allclose(scores, model.predict_proba(features)[:, 1], atol=1e-5)


def test_direction_is_a_unit_projection():
    direction = torch.tensor([3.0, 4.0])
    signal = DirectionSignal({"d": direction})
    activations = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, False]])
    assert torch.allclose(signal.score(activations, mask), torch.tensor([[5.0]]))


def test_signal_set_names_are_unique():
    with pytest.raises(ValueError, match="repeated: d"):
        SignalSet([DirectionSignal({"d": torch.ones(2)}), DirectionSignal({"d": torch.ones(2)})])
