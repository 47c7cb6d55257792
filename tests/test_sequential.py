"""Sequential (CUSUM) rules: the statistic, its calibration from control runs, the monitor's levels, metrics, events and state."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml

from em_monitor.config import ConfigError, SequentialRule, check_signal_names, parse_config
from em_monitor.offline.calibration import RunPeaks
from em_monitor.offline.sequential_calibration import calibrate_sequential, parse_rule_spec, sequential_crossings
from em_monitor.runtime.event_schema import LevelEvent, SampleEvent, read_events
from em_monitor.runtime.events import EventLog
from em_monitor.runtime.export import MonitorMetrics
from em_monitor.runtime.levels import Level
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.sequential import combined_z, cusum_update, replay

SIGNALS = ("persona_direction", "persona_probe", "toxic_persona")
KINDS = {"persona_direction": "direction", "persona_probe": "probe", "toxic_persona": "sae_latent"}


def synthetic_run(seed: int, shift: float = 0.0, passes: int = 12, noise: float = 0.3) -> RunPeaks:
    """A run's post-baseline pass drifts: noise shared by the three signals plus their own, and a persistent ``shift`` (σ of drift)."""
    rng = np.random.default_rng(seed)
    shared = rng.normal(0.0, noise, passes)
    return RunPeaks(f"run{seed}", {(signal, "generations"): [(10 * (i + 1), float(shared[i] + rng.normal(0.0, noise) + shift)) for i in range(passes)]
                                   for signal in SIGNALS})


def test_cusum_adds_the_excess_over_the_reference_and_never_goes_below_zero():
    assert cusum_update(0.0, 1.5, 0.5) == 1.0
    assert cusum_update(1.0, 1.5, 0.5) == 2.0
    assert cusum_update(2.0, -3.0, 0.5) == 0.0


def test_a_pass_missing_one_signal_adds_no_evidence():
    rule = SequentialRule(signals={"a": {"std": 0.5}, "b": {"std": 0.25, "mean": 0.1, "weight": 0.5}}, warn=2.0)
    assert combined_z({"a": 1.0, "b": 0.6}, rule) == pytest.approx(1.0 * 1.0 / 0.5 + 0.5 * 0.5 / 0.25)
    assert combined_z({"a": 1.0}, rule) is None
    assert combined_z({"a": 1.0, "b": float("nan")}, rule) is None
    trace = replay([(1, {"a": 1.0, "b": 0.6}), (2, {"a": 1.0}), (3, {"a": 1.0, "b": 0.6})], rule)
    assert [step for step, _, _ in trace] == [1, 3] and trace[-1][2] == pytest.approx(2 * (3.0 - 0.5))


def test_calibration_catches_a_small_persistent_shift_and_stays_quiet_on_clean_runs():
    controls = [synthetic_run(seed) for seed in range(6)]
    calibrated = calibrate_sequential(controls, "narrow", list(SIGNALS), reference=0.5, false_alarm_rate=0.05)
    rule = calibrated.rule
    # The model is the controls': centred drifts, their spread, positive weights making z unit-variance.
    assert all(abs(model.mean) < 0.2 and 0.2 < model.std < 0.7 and model.weight > 0 for model in rule.signals.values())
    assert rule.warn < rule.critical and rule.warn > max(calibrated.control_max)
    assert calibrated.simulated_false_alarm_rate <= 0.05 and calibrated.passes_per_run == 12
    assert calibrated.false_alarm_rate is not None and len(calibrated.loo_warns) == 6
    # A shift of half the per-pass noise, in every signal, on every pass: no single pass stands out ...
    shifted = [synthetic_run(100 + seed, shift=0.3) for seed in range(10)]
    caught = [sequential_crossings(run, rule)["warn_step"] for run in shifted]
    assert sum(step is not None for step in caught) >= 8, caught
    # ... and fresh clean runs stay quiet at about the calibrated rate.
    clean = [sequential_crossings(synthetic_run(200 + seed), rule)["warn_step"] for seed in range(40)]
    assert sum(step is not None for step in clean) <= 4, clean


def test_calibration_refuses_too_little_data_and_flat_signals():
    with pytest.raises(ValueError, match="at least 3"):
        calibrate_sequential([synthetic_run(0, passes=2)], "narrow", list(SIGNALS))
    flat = RunPeaks("flat", {("a", "generations"): [(step, 0.0) for step in range(10)]})
    with pytest.raises(ValueError, match="did not vary"):
        calibrate_sequential([flat], "narrow", ["a"])


def test_rule_specs_parse_and_bad_ones_say_how_to_write_them():
    assert parse_rule_spec("narrow=persona_direction,toxic_persona") == ("narrow", ["persona_direction", "toxic_persona"], "generations")
    assert parse_rule_spec("tb=toxic_persona@train_batch") == ("tb", ["toxic_persona"], "train_batch")
    with pytest.raises(ValueError, match="NAME=SIGNAL"):
        parse_rule_spec("persona_direction")


def config(pack_dir, tmp_path, **sequential):
    raw = {"run": "seq", "pack": str(pack_dir), "baseline_samples": 2, "sources": ["prompts", "generations"], "sequential": sequential}
    return parse_config(raw, base_dir=tmp_path)


RULE = {"signals": {"toxic_persona": {"mean": 0.0, "std": 0.2}}, "source": "prompts", "reference": 0.5, "warn": 3.0, "critical": 6.0}


@pytest.mark.parametrize(("rule", "field", "words"), [
    ({**RULE, "signals": {"toxic_persona": {"mean": 0.0}}}, "sequential.narrow.signals.toxic_persona.std", "required"),
    ({**RULE, "warn": 6.0}, "sequential.narrow", "below critical"),
    ({**RULE, "warn": None, "critical": None}, "sequential.narrow", "calibrate --sequential"),
    ({**RULE, "source": "train_batch"}, "(top level)", "not in `sources`"),
    ({**RULE, "signals": {}}, "sequential.narrow.signals", "at least 1"),
    ({**RULE, "reference": -1}, "sequential.narrow.reference", "too small"),
])
def test_bad_sequential_rules_fail_at_start_up_naming_the_field(pack_dir, tmp_path, rule, field, words):
    with pytest.raises(ConfigError) as caught:
        config(pack_dir, tmp_path, narrow=rule)
    assert any(path == field and words in message for path, message in caught.value.problems), caught.value.problems


def test_sequential_rules_must_name_pack_signals_and_not_share_a_signals_name(pack_dir, tmp_path):
    with pytest.raises(ConfigError) as caught:
        check_signal_names(config(pack_dir, tmp_path, toxic_persona=RULE, narrow={**RULE, "signals": {"toxic_persna": {"std": 1.0}}}), KINDS)
    problems = dict(caught.value.problems)
    assert "name the rule apart" in problems["sequential.toxic_persona"]
    assert "no such signal" in problems["sequential.narrow.signals.toxic_persna"]


def planted_monitor(pack_dir, tmp_path) -> Monitor:
    settings = config(pack_dir, tmp_path, narrow=RULE)
    metrics = MonitorMetrics(settings.run, settings.sources, KINDS, sequential_rules=list(settings.sequential))
    return Monitor(settings, KINDS, metrics=metrics, events=EventLog(tmp_path / "events.jsonl", "seq"))


def scores(shift: float, seed: int) -> dict[str, torch.Tensor]:
    """16 prompts' toxic_persona scores: unit spread around ``shift`` (the other signals flat)."""
    noise = torch.randn(16, generator=torch.Generator().manual_seed(seed))
    noise = (noise - noise.mean()) / noise.std()
    return {"toxic_persona": noise + shift, "persona_direction": torch.zeros(16), "persona_probe": torch.zeros(16)}


def test_the_monitor_accumulates_a_persistent_shift_to_critical_with_metrics_events_and_state(pack_dir, tmp_path):
    monitor = planted_monitor(pack_dir, tmp_path)
    for step in range(2):
        assert monitor.observe(step, "prompts", scores(0.0, step)) == []
    # 0.4σ a pass: under any sensible level threshold, but z = 0.4 / 0.2 = 2 a pass, 1.5 over the reference.
    changes = [(step, change.signal, change.new) for step in range(10, 60, 10) for change in monitor.observe(step, "prompts", scores(0.4, step))]
    assert changes == [(20, "narrow", Level.WARN), (40, "narrow", Level.CRITICAL)]
    assert monitor.alerting() == ("narrow",)
    z = 0.4 / monitor.baselines[("toxic_persona", "prompts")].std / 0.2  # the drift in baseline σ, over the rule's in-control std
    assert 1.9 < z < 2.1
    sample = lambda name: monitor.metrics.registry.get_sample_value(name, {"run": "seq", "rule": "narrow"})  # noqa: E731
    assert sample("em_monitor_sequential_statistic") == pytest.approx(5 * (z - 0.5)) and sample("em_monitor_sequential_level") == 2
    monitor.events.close()
    records = read_events(tmp_path / "events.jsonl")
    figures = [record.sequential["narrow"] for record in records if isinstance(record, SampleEvent) and record.sequential]
    assert [f.statistic for f in figures] == pytest.approx([n * (z - 0.5) for n in range(1, 6)]) and all(f.z == pytest.approx(z) for f in figures)
    levels = [(record.signal, record.measure, record.new) for record in records if isinstance(record, LevelEvent)]
    assert levels == [("narrow", "cusum", "warn"), ("narrow", "cusum", "critical")]
    # A resumed run continues the evidence, the level and the exported series.
    resumed = planted_monitor(pack_dir, tmp_path / "resumed")
    resumed.load_state_dict(json.loads(json.dumps(monitor.state_dict())))
    assert resumed.sequential["narrow"].statistic == pytest.approx(5 * (z - 0.5)) and resumed.sequential_levels["narrow"] == Level.CRITICAL
    assert resumed.metrics.registry.get_sample_value("em_monitor_sequential_level", {"run": "seq", "rule": "narrow"}) == 2
    # A realignment that acted on the evidence restarts it: clean passes then bring the level down.
    resumed.reset_sequential(["narrow"])
    change = resumed.observe(60, "prompts", scores(0.0, 60))
    assert [(c.signal, c.new) for c in change] == [("narrow", Level.OK)]


def test_a_clean_noisy_sequence_never_alerts(pack_dir, tmp_path):
    monitor = planted_monitor(pack_dir, tmp_path)
    rng = np.random.default_rng(0)
    for step in range(2):
        monitor.observe(step, "prompts", scores(0.0, step))
    # Pass means wander by ±0.2σ (the rule's in-control spread) around the baseline, for 60 passes.
    # At k = 0.5 the CUSUM's in-control run length to h = 6 is over a thousand passes: critical must not come.
    changes = [change for step in range(10, 610, 10) for change in monitor.observe(step, "prompts", scores(float(rng.normal(0.0, 0.2)), step))]
    assert all(change.new < Level.CRITICAL for change in changes), changes
    assert max(figures.passes for figures in monitor.sequential.values()) == 60


def test_a_rising_sequential_level_runs_the_configured_actions(pack_dir, tmp_path):
    monitor = planted_monitor(pack_dir, tmp_path)
    for step in range(2):
        monitor.observe(step, "prompts", scores(0.0, step))
    actions = [monitor.actions_for(monitor.observe(step, "prompts", scores(0.4, step))) for step in range(10, 50, 10)]
    assert actions == [[], ["log"], [], ["log", "checkpoint"]]


def test_calibrate_writes_a_sequential_block_a_monitor_config_accepts(pack_dir, tmp_path):
    # Control and check runs as the monitor writes them, through its own event log.
    def write_run(folder, shift: float, seed: int):
        folder.mkdir()
        settings = parse_config({"run": folder.name, "pack": str(pack_dir), "baseline_samples": 2, "sources": ["generations"],
                                 "event_log": str(folder / "events.jsonl")}, base_dir=tmp_path)
        monitor = Monitor(settings, KINDS, metrics=None, events=EventLog(folder / "events.jsonl", folder.name))
        monitor.event("start", step=0, pack=str(pack_dir), layer=1, signals=KINDS, sources=["generations"], baseline_samples=2)
        rng = np.random.default_rng(seed)
        for index, step in enumerate(range(0, 130, 10)):
            drift = 0.0 if index < 2 else float(rng.normal(0.0, 0.25)) + shift
            per_signal = torch.randn(16, generator=torch.Generator().manual_seed(seed * 1000 + step))
            per_signal = (per_signal - per_signal.mean()) / per_signal.std() + drift
            monitor.observe(step, "generations", {signal: per_signal + offset for offset, signal in enumerate(SIGNALS)})
        monitor.events.close()
        return folder / "events.jsonl"

    controls = [write_run(tmp_path / f"good{seed}", 0.0, seed) for seed in range(4)]
    bad = write_run(tmp_path / "bad", 0.35, 99)
    out = tmp_path / "cal"
    result = subprocess.run([sys.executable, "-m", "em_monitor.cli", "calibrate", "--events", *map(str, controls), "--check", str(bad),
                             "--sequential", "narrow=" + ",".join(SIGNALS), "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sequential rules (CUSUM)" in result.stdout
    thresholds = yaml.safe_load((out / "thresholds.yaml").read_text())
    settings = parse_config({"pack": str(pack_dir), "sources": ["generations"], **thresholds}, base_dir=tmp_path)
    rule = settings.sequential["narrow"]
    assert set(rule.signals) == set(SIGNALS) and rule.source == "generations" and rule.warn < rule.critical
    report = json.loads((out / "calibration.json").read_text())["sequential"]
    assert report["rules"]["narrow"]["false_alarm_rate"] is not None
    assert report["checks"][str(bad)]["narrow"]["warn_step"] is not None
    assert "--sequential" in (out / "thresholds.yaml").read_text().splitlines()[0]
