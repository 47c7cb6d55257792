"""Baseline statistics, drift and hysteresis levels."""

import doctest

import numpy as np
import torch

import em_monitor.runtime.levels
from em_monitor.runtime.drift import RunningStats, drift
from em_monitor.runtime.levels import Level, next_level


def test_running_stats_match_numpy_over_batches():
    rng = np.random.default_rng(0)
    chunks = [rng.normal(3.0, 2.0, size=n) for n in (5, 1, 17, 40)]
    stats = RunningStats()
    for chunk in chunks:
        stats.update(torch.from_numpy(chunk))
    everything = np.concatenate(chunks)
    assert stats.count == len(everything)
    assert np.isclose(stats.mean, everything.mean())
    assert np.isclose(stats.std, everything.std(ddof=1))
    assert RunningStats.from_state(stats.state_dict()) == stats


def test_drift_in_baseline_standard_deviations():
    baseline = RunningStats.from_mean_std(10.0, 2.0, count=50)
    assert np.isclose(drift(15.0, baseline), 2.5)
    assert torch.allclose(drift(torch.tensor([10.0, 6.0]), baseline), torch.tensor([0.0, -2.0]))


def test_constant_baseline_gives_finite_drift():
    baseline = RunningStats()
    baseline.update(torch.full((10,), 4.0))
    assert np.isfinite(drift(4.5, baseline)) and drift(4.5, baseline) > 1e3


def test_hysteresis_prevents_flapping():
    level = Level.OK
    trace = []
    for measure in [1.0, 2.1, 1.9, 2.05, 1.7, 1.4, 4.2, 3.9, 3.4]:
        level = next_level(level, measure, warn=2.0, critical=4.0, hysteresis=0.5)
        trace.append(level)
    assert trace == [Level.OK, Level.WARN, Level.WARN, Level.WARN, Level.WARN, Level.OK, Level.CRITICAL, Level.CRITICAL, Level.WARN]


def test_non_finite_measure_keeps_the_level():
    assert next_level(Level.WARN, float("nan"), 1.0, 2.0) == Level.WARN
    assert next_level(Level.OK, float("inf"), 1.0, 2.0) == Level.OK


def test_doctests():
    assert doctest.testmod(em_monitor.runtime.levels).failed == 0


def test_a_floor_keeps_an_all_zero_baseline_from_reading_a_single_firing_as_thousands_of_sigma():
    silent = RunningStats()
    silent.update(torch.zeros(16))  # a sparse latent that never fired on the baseline answers
    assert drift(0.5, silent) > 1e5, "without a floor the first firing is off the scale"
    assert np.isclose(drift(0.5, silent, min_std=0.25), 2.0)
    spread = RunningStats.from_mean_std(1.0, 2.0, count=50)
    assert np.isclose(drift(3.0, spread, min_std=0.25), 1.0), "a floor below the measured std changes nothing"
