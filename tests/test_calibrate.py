"""``em-monitor calibrate``: thresholds from control runs' event logs, and control runs made on a tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from em_monitor.cli import main
from em_monitor.config import parse_config
from em_monitor.offline.calibration import (
    calibrate,
    config_fragment,
    first_crossings,
    read_run,
)
from em_monitor.offline.flag_calibration import (
    flag_thresholds,
    held_out_false_flag_rate,
)
from em_monitor.report import FLAG_ALERT_COUNT, flag_alert_step
from em_monitor.runtime.event_schema import FlaggedEvent


def write_log(path: Path, drifts: dict[str, list[float]], *, baseline_samples: int = 2, source: str = "generations") -> Path:
    """An event log with one pass per step; the first ``baseline_samples`` passes are baseline passes."""
    lines = [{"event": "start", "step": 0, "pack": "pack", "layer": 1, "signals": {name: "direction" for name in drifts}, "sources": [source],
              "baseline_samples": baseline_samples}]
    steps = len(next(iter(drifts.values())))
    for step in range(steps):
        lines.append({"event": "sample", "step": step, "source": source, "samples": 4, "seconds": 0.1,
                      "signals": {name: {"value": 1.0, "drift": series[step]} for name, series in drifts.items()}})
    path.write_text("".join(json.dumps({"time": 1.0, "run": "control", **line}) + "\n" for line in lines))
    return path


def test_warn_sits_a_margin_above_the_highest_control_peak_and_baseline_passes_do_not_count(tmp_path):
    # The 9.0 at step 1 is a baseline pass: it must not set the threshold.
    a = read_run(write_log(tmp_path / "a.jsonl", {"toxic": [0.0, 9.0, 0.4, 0.8], "probe": [0.0, 0.0, -1.0, -0.5]}))
    b = read_run(write_log(tmp_path / "b.jsonl", {"toxic": [0.0, 0.0, 1.2, 0.3], "probe": [0.0, 0.0, 0.2, 0.1]}))
    thresholds = calibrate([a, b], sources=["generations"], margin=1.0, critical_gap=1.5)
    assert thresholds["toxic"].control_peaks == [0.8, 1.2]
    assert thresholds["toxic"].warn == pytest.approx(2.2) and thresholds["toxic"].critical == pytest.approx(3.7)
    assert thresholds["probe"].warn == pytest.approx(1.2)


def test_leave_one_out_counts_a_control_that_the_others_would_not_have_covered(tmp_path):
    quiet = [read_run(write_log(tmp_path / f"q{i}.jsonl", {"toxic": [0, 0, 0.5 + 0.1 * i]})) for i in range(3)]
    loud = read_run(write_log(tmp_path / "loud.jsonl", {"toxic": [0, 0, 3.0]}))
    assert calibrate(quiet, sources=["generations"], margin=0.5)["toxic"].false_alert_rate == 0.0
    mixed = calibrate([*quiet, loud], sources=["generations"], margin=0.5)["toxic"]
    assert mixed.false_alert_rate == 0.25, "the loud run exceeds warn calibrated on the quiet three"
    assert calibrate(quiet[:1], sources=["generations"])["toxic"].false_alert_rate is None


def test_a_run_under_test_reports_its_first_warn_and_critical_steps(tmp_path):
    control = read_run(write_log(tmp_path / "c.jsonl", {"toxic": [0, 0, 0.5, 0.5]}))
    thresholds = calibrate([control], sources=["generations"], margin=1.0, critical_gap=1.0)  # warn 1.5, critical 2.5
    bad = read_run(write_log(tmp_path / "bad.jsonl", {"toxic": [0, 0, 1.0, 1.6, 2.4, 2.6]}))
    assert first_crossings(bad, thresholds)["toxic"] == {"peak": 2.6, "warn_step": 3, "critical_step": 5}
    other_source = read_run(write_log(tmp_path / "p.jsonl", {"toxic": [0, 0, 5.0]}, source="prompts"))
    assert first_crossings(other_source, thresholds)["toxic"] == {"peak": None, "warn_step": None, "critical_step": None}


def test_checks_and_leave_one_out_use_the_thresholds_as_written(tmp_path):
    """warn is rounded up to 0.1σ in thresholds.yaml; a run between the raw and the written warn must not count as alerting."""
    control = read_run(write_log(tmp_path / "c.jsonl", {"toxic": [0, 0, 0.41]}))
    thresholds = calibrate([control], sources=["generations"], margin=1.0, critical_gap=1.0)
    assert thresholds["toxic"].warn == pytest.approx(1.5) and thresholds["toxic"].critical == pytest.approx(2.5)
    between = read_run(write_log(tmp_path / "between.jsonl", {"toxic": [0, 0, 1.45]}))
    assert first_crossings(between, thresholds)["toxic"]["warn_step"] is None
    controls = [control, between]
    assert calibrate(controls, sources=["generations"], margin=1.0)["toxic"].false_alert_rate == 0.0, "1.45 < 1.5, 0.41 < 2.5"


def test_the_fragment_is_a_valid_signals_block_rounded_up(tmp_path, pack_dir):
    control = read_run(write_log(tmp_path / "c.jsonl", {"toxic_persona": [0, 0, 0.51]}))
    fragment = config_fragment(calibrate([control], sources=["generations"], margin=1.0, critical_gap=1.0))
    assert fragment["signals"]["toxic_persona"]["warn"] == 1.6 and fragment["signals"]["toxic_persona"]["critical"] == 2.6
    config = parse_config({"pack": str(pack_dir), "sources": ["prompts", "generations"], **fragment}, base_dir=tmp_path)
    assert config.signals["toxic_persona"].warn == 1.6


def test_bad_inputs_say_what_is_wrong(tmp_path):
    with pytest.raises(ValueError, match="no sampling passes after the baseline"):
        read_run(write_log(tmp_path / "short.jsonl", {"toxic": [0.0, 0.1]}))
    control = read_run(write_log(tmp_path / "c.jsonl", {"toxic": [0, 0, 0.5]}))
    with pytest.raises(ValueError, match="sources"):
        calibrate([control], sources=["train_batch"])
    assert main(["calibrate", "--out", str(tmp_path / "none")]) == 2


def test_calibrate_runs_control_fine_tunes_and_judges_another_run(tiny_model_dir, pack_dir, tmp_path):
    """Two control runs of the demo's good scenario on a tiny model, then a check of a third log."""
    out = tmp_path / "cal"
    assert main(["calibrate", "--run-controls", "2", "--model", str(tiny_model_dir), "--pack", str(pack_dir), "--steps", "6",
                 "--sources", "prompts", "--check", str(out / "control-seed0" / "events.jsonl"), "--out", str(out)]) == 0
    report = json.loads((out / "calibration.json").read_text())
    assert report["controls"] == [str(out / f"control-seed{seed}" / "events.jsonl") for seed in range(2)]
    assert report["signals"] and all(len(entry["control_peaks"]) == 2 for entry in report["signals"].values())
    for name, entry in report["signals"].items():
        # Peak + margin, rounded up to 0.1σ (as written to thresholds.yaml).
        assert max(entry["control_peaks"]) + 1.0 - 1e-3 <= entry["warn"] < max(entry["control_peaks"]) + 1.1 + 1e-3
        # A control is never above thresholds calibrated on itself.
        assert report["checks"][str(out / "control-seed0" / "events.jsonl")][name]["warn_step"] is None
    text = (out / "thresholds.yaml").read_text()
    assert text.startswith("# Calibrated by: em-monitor calibrate ") and "--run-controls 2" in text
    assert set(yaml.safe_load(text)["signals"]) == set(report["signals"])


# Per-sample flags from clean data (em_monitor.offline.flag_calibration).

def test_a_flag_sits_a_margin_of_clean_stds_above_the_clean_maximum():
    clean = np.array([0.0, 0.0, 1.0, 2.0, np.nan, 4.0])
    thresholds, unusable = flag_thresholds({"latent": clean}, {}, margin=2.0)
    finite = clean[np.isfinite(clean)]
    assert thresholds["latent"].flag == pytest.approx(4.0 + 2.0 * finite.std(ddof=1))
    assert thresholds["latent"].samples == 5 and not unusable


def test_a_probe_already_near_one_on_clean_data_and_a_constant_signal_get_no_flag():
    rng = np.random.default_rng(0)
    scores = {"probe": np.concatenate([rng.uniform(0.0, 0.5, 50), [0.999]]), "dead": np.zeros(51), "latent": rng.exponential(1.0, 51)}
    thresholds, unusable = flag_thresholds(scores, {"probe": 1.0})
    assert set(thresholds) == {"latent"}
    assert "could never fire" in unusable["probe"] and "constant" in unusable["dead"]
    # The same probe read as log-odds has no ceiling: its flag lands above the clean maximum and can fire.
    log_odds = np.log(scores["probe"] / (1 - scores["probe"]))
    thresholds, unusable = flag_thresholds({"probe": log_odds}, {})
    assert thresholds["probe"].flag > np.log(999) and not unusable


def test_the_held_out_false_flag_rate_falls_as_the_margin_grows():
    heavy_tailed = np.random.default_rng(1).pareto(2.0, 600)
    rates = [held_out_false_flag_rate(heavy_tailed, margin) for margin in (0.0, 2.0, 20.0)]
    assert rates[0] > 0, "a threshold at the maximum of one half lets some of the other half through"
    assert rates[0] > rates[1] >= rates[2]


def test_flags_join_the_fragment_as_value_thresholds_and_parse(tmp_path, pack_dir):
    control = read_run(write_log(tmp_path / "c.jsonl", {"toxic_persona": [0, 0, 0.5]}))
    fragment = config_fragment(calibrate([control], sources=["generations"]), flags={"toxic_persona": 6.5191, "sarcasm_persona": 3.21})
    rules = fragment["signals"]
    assert rules["toxic_persona"]["flag"] == 6.52 and rules["toxic_persona"]["flag_measure"] == "value"
    assert rules["toxic_persona"]["warn"] == 1.5, "the drift thresholds stay as calibrated"
    assert rules["sarcasm_persona"] == {"measure": "value", "sources": ["train_batch"], "flag": 3.21, "flag_measure": "value"}
    config = parse_config({"pack": str(pack_dir), "sources": ["prompts", "train_batch", "generations"], **fragment}, base_dir=tmp_path)
    assert config.signals["toxic_persona"].flag == 6.52


def test_a_data_alert_needs_two_samples_flagged_by_one_signal():
    def flagged(step: int, signal: str, index: int = 0) -> FlaggedEvent:
        return FlaggedEvent(time=1.0, run="r", event="flagged", step=step, signal=signal, batch_index=index, score=0.9, measure="value", observed=0.9)

    assert flag_alert_step([flagged(3, "toxic_persona")]) is None
    assert flag_alert_step([flagged(3, "toxic_persona"), flagged(5, "persona_probe")]) is None
    assert flag_alert_step([flagged(3, "toxic_persona"), flagged(5, "persona_probe"), flagged(9, "toxic_persona", 2),
                            flagged(7, "persona_probe", 1)]) == 7
    assert FLAG_ALERT_COUNT == 2


def test_calibrate_scores_clean_data_and_writes_flags_no_clean_sample_reaches(tiny_model_dir, pack_dir, tokenizer, tmp_path):
    """The tiny model scores a clean chat file; the written flag sits above every clean sample's own score."""
    from em_monitor.chat import read_chat_jsonl
    from em_monitor.models import load_model
    from em_monitor.offline.audit import score_answers
    from em_monitor.packs import load_pack

    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Question {i}?"},
                                                      {"role": "assistant", "content": f"A calm answer number {i} about gardens."}]}) + "\n"
                             for i in range(12)))
    log = write_log(tmp_path / "c.jsonl", {"toxic_persona": [0, 0, 0.4], "persona_probe": [0, 0, 0.2]})
    out = tmp_path / "cal"
    assert main(["calibrate", "--events", str(log), "--flag-data", str(clean), "--flag-signals", "toxic_persona", "persona_direction",
                 "--model", str(tiny_model_dir), "--pack", str(pack_dir), "--flag-max-length", "64", "--out", str(out)]) == 0
    report = json.loads((out / "calibration.json").read_text())["flags"]
    rules = yaml.safe_load((out / "thresholds.yaml").read_text())["signals"]
    loaded, pack = load_model(str(tiny_model_dir)), load_pack(pack_dir)
    scores = score_answers(loaded.model, loaded.tokenizer, pack.build_signals(), pack.layer, read_chat_jsonl(clean), max_length=64)
    for name, entry in report["signals"].items():
        assert entry["samples"] == 12 and entry["clean_max"] == pytest.approx(float(np.nanmax(scores[name])), rel=1e-4, abs=1e-4)
        assert rules[name]["flag"] >= entry["flag"] > float(np.nanmax(scores[name])), "no clean sample reaches the flag"
    assert set(report["signals"]) | set(report["unusable"]) == {"toxic_persona", "persona_direction"}
    assert "--flag-data" in (out / "thresholds.yaml").read_text().splitlines()[0]
    assert main(["calibrate", "--events", str(log), "--flag-data", str(clean), "--flag-signals", "no_such_signal",
                 "--model", str(tiny_model_dir), "--pack", str(pack_dir), "--out", str(out)]) == 1


def test_flags_alone_need_no_control_runs(tiny_model_dir, pack_dir, tmp_path):
    clean = tmp_path / "clean.jsonl"
    clean.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"Question {i}?"},
                                                      {"role": "assistant", "content": f"A calm answer number {i}."}]}) + "\n"
                             for i in range(8)))
    out = tmp_path / "flags"
    assert main(["calibrate", "--flag-data", str(clean), "--flag-signals", "persona_direction", "--model", str(tiny_model_dir),
                 "--pack", str(pack_dir), "--flag-max-length", "64", "--out", str(out)]) == 0
    text = (out / "thresholds.yaml").read_text()
    assert "# Controls: none (per-sample flags only)" in text
    rule = yaml.safe_load(text)["signals"]["persona_direction"]
    assert rule["flag_measure"] == "value" and rule["sources"] == ["train_batch"]
    assert main(["calibrate", "--out", str(tmp_path / "nothing")]) == 2
