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


#: Every architecture sae-lens loads an SAE as (its inference registry, transcoders aside), with what its config needs.
#: BatchTopK and Matryoshka SAEs are trained as their own classes and saved by sae-lens as JumpReLU (see below).
INFERENCE_ARCHITECTURES = {"standard": {}, "gated": {}, "jumprelu": {}, "topk": {"k": 8}, "abstopk": {"k": 8}, "matching_pursuit": {}}
TRAINED_AS = {"batchtopk": {"k": 8}, "matryoshka_batchtopk": {"k": 8, "matryoshka_widths": [64, 256]}}


def _randomise(sae, seed=0):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in sae.named_parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.2)
            if name == "threshold":
                parameter.copy_(torch.rand(parameter.shape, generator=generator) * 0.5)
    return sae.eval()


def _random_sae(architecture, d_in=32, d_sae=256, seed=0, **config):
    from sae_lens.registry import get_sae_class

    sae_class, config_class = get_sae_class(architecture)
    return _randomise(sae_class(config_class(d_in=d_in, d_sae=d_sae, **INFERENCE_ARCHITECTURES.get(architecture, {}), **config)), seed)


def _assert_watched_equal_full_encode(sae, *, sliced: bool):
    latents = {"a": 3, "b": 200, "c": 17}
    signal = SaeLatentSignal(sae, latents, pooling="max")
    assert signal.sliced == sliced
    activations = torch.randn(4, 7, int(sae.cfg.d_in), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = sae.encode(activations)[..., list(latents.values())]
    watched = signal.encode_watched(activations)
    torch.testing.assert_close(watched, expected, rtol=0, atol=1e-5)
    assert (expected > 0).any(), "the comparison must include active latents"
    mask = torch.ones(4, 7, dtype=torch.bool)
    torch.testing.assert_close(signal.score(activations, mask), pool(expected, mask, "max"), rtol=0, atol=1e-5)


@pytest.mark.parametrize("architecture", sorted(INFERENCE_ARCHITECTURES))
def test_watched_latents_equal_sae_lens_encode_for_every_architecture(architecture, tmp_path):
    """The fast path (standard, gated, JumpReLU) or the full encode (the TopK family), saved and loaded as a pack loads it."""
    from em_monitor.saes import load_sae

    _random_sae(architecture).save_model(tmp_path)
    _assert_watched_equal_full_encode(load_sae(tmp_path), sliced=architecture in ("standard", "gated", "jumprelu"))


@pytest.mark.parametrize("architecture", sorted(TRAINED_AS))
def test_batchtopk_and_matryoshka_saes_load_as_jumprelu_and_take_the_fast_path(architecture, tmp_path):
    from sae_lens.registry import get_sae_training_class

    from em_monitor.saes import load_sae

    training_class, config_class = get_sae_training_class(architecture)
    trained = _randomise(training_class(config_class(d_in=32, d_sae=256, **TRAINED_AS[architecture])))
    trained.save_inference_model(tmp_path)
    sae = load_sae(tmp_path)
    assert sae.cfg.architecture() == "jumprelu"
    _assert_watched_equal_full_encode(sae, sliced=True)


@pytest.mark.parametrize("normalize", ["none", "layer_norm", "constant_norm_rescale", "expected_average_only_in"])
def test_the_fast_path_keeps_the_sae_input_normalisation(normalize):
    _assert_watched_equal_full_encode(_random_sae("standard", normalize_activations=normalize), sliced=True)


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
    log_odds = ProbeSignal("p", torch.from_numpy(model.coef_[0]), torch.from_numpy(model.intercept_), pooling="mean", output="logit")
    logits = log_odds.score(activations, torch.ones(200, 1, dtype=torch.bool)).squeeze(-1).numpy()
    assert np.allclose(logits, model.decision_function(features), atol=1e-4)


def test_direction_is_a_unit_projection():
    direction = torch.tensor([3.0, 4.0])
    signal = DirectionSignal({"d": direction})
    activations = torch.tensor([[[3.0, 4.0], [0.0, 0.0]]])
    mask = torch.tensor([[True, False]])
    assert torch.allclose(signal.score(activations, mask), torch.tensor([[5.0]]))


def test_signal_set_names_are_unique():
    with pytest.raises(ValueError, match="repeated: d"):
        SignalSet([DirectionSignal({"d": torch.ones(2)}), DirectionSignal({"d": torch.ones(2)})])
