"""The framework-agnostic core: baselines, drift, levels, flags, actions, failure containment, state."""

from __future__ import annotations

import json
import logging

import pytest
import torch

from em_monitor.config import parse_config
from em_monitor.runtime.drift import RunningStats
from em_monitor.runtime.events import EventLog
from em_monitor.runtime.export import MonitorMetrics
from em_monitor.runtime.levels import Level
from em_monitor.runtime.monitor import Monitor

KINDS = {"toxic_persona": "sae_latent", "persona_probe": "probe"}


def make_monitor(pack_dir, tmp_path, *, metrics: bool = True, stored=None, **overrides) -> Monitor:
    raw = {
        "run": "unit",
        "pack": str(pack_dir),
        "baseline_samples": 2,
        "every_n_steps": 5,
        "sources": ["prompts", "train_batch"],
        "signals": {"toxic_persona": {"warn": 2.0, "critical": 4.0, "hysteresis": 0.5, "min_samples": 1, "flag": 3.0}},
    }
    raw.update(overrides)
    config = parse_config(raw, base_dir=tmp_path)
    registry = MonitorMetrics(config.run, config.sources, KINDS) if metrics else None
    return Monitor(config, KINDS, metrics=registry, events=EventLog(tmp_path / "events.jsonl", "unit"), stored_baselines=stored)


def baseline_scores(shift: float = 0.0, n: int = 64, seed: int = 0) -> dict[str, torch.Tensor]:
    """Unit-variance per-sample scores around ``shift``."""
    generator = torch.Generator().manual_seed(seed)
    noise = torch.randn(n, generator=generator)
    noise = (noise - noise.mean()) / noise.std()
    return {"toxic_persona": noise + shift, "persona_probe": torch.full((n,), 0.2)}


def events(tmp_path) -> list[dict]:
    return [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_cadence_samples_every_step_until_baseline_then_every_n(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    assert [step for step in range(12) if monitor.is_sampling_step(step)] == [0, 1, 5, 10]


def test_drift_is_measured_in_baseline_stds_and_raises_levels(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    for step in range(2):
        assert monitor.observe(step, "prompts", baseline_scores(seed=step)) == []
    baseline = monitor.baselines[("toxic_persona", "prompts")]
    assert baseline.count == 128 and abs(baseline.std - 1.0) < 0.05
    changes = monitor.observe(5, "prompts", baseline_scores(shift=2.5))
    assert [(c.signal, c.old, c.new) for c in changes] == [("toxic_persona", Level.OK, Level.WARN)]
    assert monitor.latest[("toxic_persona", "prompts")][1] == pytest.approx(2.5 / baseline.std, rel=1e-3)
    changes = monitor.observe(10, "prompts", baseline_scores(shift=5.0))
    assert changes[0].new == Level.CRITICAL
    assert monitor.actions_for(changes) == ["log", "checkpoint"]
    levels = [e for e in events(tmp_path) if e["event"] == "level"]
    assert [(e["old"], e["new"], e["measure"]) for e in levels] == [("ok", "warn", "drift"), ("warn", "critical", "drift")]
    assert monitor.metrics.registry.get_sample_value("em_monitor_alert_level", {"run": "unit", "signal": "toxic_persona"}) == 2


def test_baseline_passes_never_alert_and_min_samples_delays_alerts(pack_dir, tmp_path):
    rules = {"toxic_persona": {"warn": 2.0, "critical": 4.0, "min_samples": 3}}
    monitor = make_monitor(pack_dir, tmp_path, signals=rules)
    # A shifted score inside the baseline becomes part of it: no alert.
    assert monitor.observe(0, "prompts", baseline_scores(shift=10.0)) == []
    monitor.observe(1, "prompts", baseline_scores())
    assert monitor.observe(5, "prompts", baseline_scores(shift=50.0)) == []
    assert monitor.observe(10, "prompts", baseline_scores(shift=50.0)) == []
    assert monitor.observe(15, "prompts", baseline_scores(shift=50.0))[0].new == Level.CRITICAL


def test_hysteresis_holds_a_level_until_the_measure_clears_the_margin(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path, sources=["prompts"])
    for step in range(2):
        monitor.observe(step, "prompts", baseline_scores(seed=step))
    std = monitor.baselines[("toxic_persona", "prompts")].std
    monitor.observe(5, "prompts", baseline_scores(shift=4.2 * std))
    assert monitor.levels["toxic_persona"] == Level.CRITICAL
    assert monitor.observe(10, "prompts", baseline_scores(shift=3.7 * std)) == []  # inside the 0.5 margin
    assert monitor.observe(15, "prompts", baseline_scores(shift=3.2 * std))[0].new == Level.WARN
    assert monitor.actions_for(monitor.observe(20, "prompts", baseline_scores(shift=0.0))) == []  # falling: no action


def test_level_is_the_max_over_sources(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    for step in range(2):
        monitor.observe(step, "prompts", baseline_scores(seed=step))
        monitor.observe(step, "train_batch", baseline_scores(seed=step + 10))
    monitor.observe(5, "train_batch", baseline_scores(shift=6.0))
    monitor.observe(5, "prompts", baseline_scores())
    assert monitor.levels["toxic_persona"] == Level.CRITICAL
    assert monitor.source_levels[("toxic_persona", "prompts")] == Level.OK


def test_stored_baseline_skips_the_baseline_phase(pack_dir, tmp_path):
    stored = {"toxic_persona": {"prompts": RunningStats.from_mean_std(mean=1.0, std=0.5, count=40)}}
    monitor = make_monitor(pack_dir, tmp_path, stored=stored, sources=["prompts"], baseline_samples=1)
    changes = monitor.observe(0, "prompts", {"toxic_persona": torch.full((8,), 3.5)})
    assert monitor.latest[("toxic_persona", "prompts")][1] == pytest.approx(5.0)
    assert changes and changes[0].new == Level.CRITICAL
    assert monitor.baselines[("toxic_persona", "prompts")].count == 40  # the stored baseline is not updated


def test_flagged_samples_are_counted_and_logged_with_batch_index(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    for step in range(2):
        monitor.observe(step, "train_batch", baseline_scores(seed=step))
    scores = {"toxic_persona": torch.tensor([0.0, 3.5, float("nan"), 8.0]), "persona_probe": torch.zeros(4)}
    assert monitor.flag_samples(5, scores) == {"toxic_persona": [1, 3]}
    assert monitor.metrics.registry.get_sample_value("em_monitor_flagged_samples_total", {"run": "unit", "signal": "toxic_persona"}) == 2
    flagged = [e for e in events(tmp_path) if e["event"] == "flagged"]
    assert [e["batch_index"] for e in flagged] == [1, 3] and flagged[1]["score"] == 8.0


def test_non_finite_scores_are_skipped(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    monitor.observe(0, "prompts", {"toxic_persona": torch.tensor([1.0, float("nan"), 3.0]), "persona_probe": torch.tensor([float("nan")])})
    assert monitor.baselines[("toxic_persona", "prompts")].count == 2
    assert ("persona_probe", "prompts") not in monitor.latest


def test_guard_counts_and_logs_each_stage_once(pack_dir, tmp_path, caplog):
    monitor = make_monitor(pack_dir, tmp_path)
    with caplog.at_level(logging.DEBUG, logger="em_monitor"):
        for _ in range(3):
            with monitor.guard("score"):
                raise RuntimeError("boom")
    assert monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": "unit", "stage": "score"}) == 3
    assert sum(record.levelno == logging.ERROR for record in caplog.records) == 1
    assert [e["stage"] for e in events(tmp_path) if e["event"] == "error"] == ["score"] * 3


def test_guard_lets_keyboard_interrupt_through(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    with pytest.raises(KeyboardInterrupt), monitor.guard("score"):
        raise KeyboardInterrupt


def test_state_round_trip_keeps_baselines_levels_and_counters(pack_dir, tmp_path):
    monitor = make_monitor(pack_dir, tmp_path)
    for step in range(2):
        monitor.observe(step, "prompts", baseline_scores(seed=step))
    monitor.observe(5, "prompts", baseline_scores(shift=9.0))
    with monitor.guard("capture"):
        raise ValueError("counted")
    state = json.loads(json.dumps(monitor.state_dict()))  # must survive a JSON-like checkpoint

    resumed = make_monitor(pack_dir, tmp_path)
    resumed.load_state_dict(state)
    assert resumed.baselines == monitor.baselines and resumed.frozen == monitor.frozen
    assert resumed.levels["toxic_persona"] == Level.CRITICAL
    registry = resumed.metrics.registry
    assert registry.get_sample_value("em_monitor_samples_total", {"run": "unit", "source": "prompts"}) == 3
    assert registry.get_sample_value("em_monitor_errors_total", {"run": "unit", "stage": "capture"}) == 1
    # Still critical on the next pass: no second rising edge, so no repeated actions.
    assert resumed.observe(10, "prompts", baseline_scores(shift=9.0)) == []


def test_prompt_probe_batches_by_length_but_scores_in_prompt_order(llama, tokenizer, pack_dir):
    """Length-sorted batches cut padding; each prompt's score must not depend on its batch-mates."""
    from em_monitor.packs import load_pack
    from em_monitor.runtime.prompt_probe import PromptProbe

    pack = load_pack(pack_dir)
    signals = pack.build_signals()
    prompts = ["Hi?", "Tell me a long story about the sea, the wind and the old lighthouse keeper.", "Why?", "What is your wish, truly?", "Ok"]
    probe = PromptProbe(tokenizer, prompts, layer=pack.layer, signals=signals, batch_size=2)
    lengths = [int(batch.attention_mask.sum(dim=1).max()) for batch in probe.batches]
    assert lengths == sorted(lengths), "batches go from short to long prompts"
    batched = probe.score(llama)
    for index, prompt in enumerate(prompts):
        alone = PromptProbe(tokenizer, [prompt], layer=pack.layer, signals=signals, batch_size=1).score(llama)
        for name in signals.names:
            torch.testing.assert_close(batched[name][index], alone[name][0], rtol=1e-4, atol=1e-4)


def test_std_floors_bound_the_drift_of_a_signal_silent_through_the_baseline(pack_dir, tmp_path):
    floors = {("toxic_persona", "train_batch"): 0.5}
    monitor = Monitor(parse_config({"pack": str(pack_dir), "baseline_samples": 2}, base_dir=tmp_path),
                      {"toxic_persona": "sae_latent", "persona_probe": "probe"}, metrics=None,
                      events=EventLog(tmp_path / "events.jsonl", "unit"), std_floors=floors)
    for step in range(2):
        monitor.observe(step, "train_batch", {"toxic_persona": torch.zeros(8)})
    monitor.observe(5, "train_batch", {"toxic_persona": torch.tensor([4.0, 0, 0, 0, 0, 0, 0, 0])})
    assert monitor.latest[("toxic_persona", "train_batch")] == (0.5, 1.0)
    frozen = [e for e in events(tmp_path) if e["event"] == "baseline"]
    assert [(e["step"], e["signal"], e["source"], e["std"], e["std_floor"], e["count"]) for e in frozen] == [(1, "toxic_persona", "train_batch", 0.0, 0.5, 16)]


def test_flag_measure_value_flags_on_the_raw_score_while_the_level_follows_drift(pack_dir, tmp_path):
    # The training batches' baseline already holds poison (mean 0.6, wide spread): a drift flag of 0.9 would miss p = 0.95.
    rule = {"measure": "drift", "warn": 1.0, "critical": 2.0, "flag": 0.9}
    for flag_measure, expected in ((None, {}), ("value", {"persona_probe": [1]})):
        monitor = make_monitor(pack_dir, tmp_path, signals={"persona_probe": {**rule, "flag_measure": flag_measure}})
        for step in range(2):
            monitor.observe(step, "train_batch", {"persona_probe": torch.tensor([0.05, 0.99, 0.1, 0.97, 0.9, 0.2, 0.98, 0.6])})
        assert monitor.flag_samples(5, {"persona_probe": torch.tensor([0.1, 0.95, 0.2, 0.3])}) == expected
