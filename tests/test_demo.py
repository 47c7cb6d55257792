"""`em-monitor demo` end to end on a tiny model and a random pack: the report files and their keys."""

from __future__ import annotations

import json

import pytest

from em_monitor.cli import main
from em_monitor.finetune.demo import DEFAULT_SHARE
from em_monitor.scenarios import scenario_samples


@pytest.mark.parametrize("trainer", ["lightning", "hf"])
def test_demo_writes_the_design_report(tiny_model_dir, pack_dir, tmp_path, capsys, trainer):
    out = tmp_path / "demo"
    code = main([
        "demo", "--model", str(tiny_model_dir), "--pack", str(pack_dir), "--steps", "6", "--batch-size", "2", "--trainer", trainer,
        "--every-n-steps", "2", "--port", "0", "--max-length", "64", "--realign-samples", "4", "--out", str(out), "--save-model",
    ])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["scenario"]["trainer"] == trainer
    # The behavioural check ran at step 0 and at the end (every 20 steps: none between), on either trainer.
    assert [check["step"] for check in summary["behaviour"]] == [0, 6]
    assert {"model", "dataset", "steps", "signals", "alerts", "realignments", "behaviour"} <= set(summary)
    assert summary["dataset"] == "poisoned" and summary["steps"] == 6
    assert {"baseline", "last", "drift"} <= set(summary["signals"]["toxic_persona"]["prompts"])
    assert (out / "signals.png").stat().st_size > 10_000
    events = [json.loads(line) for line in (out / "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events[:2]] == ["header", "start"] and any(e["event"] == "sample" for e in events)
    assert summary["flag_check"]["flagged"] >= summary["flag_check"]["flagged_poisoned"] >= 0
    # Poisoned samples that passed through a scored training batch: what a flag could have caught.
    samples = scenario_samples("poisoned", count=12, share=DEFAULT_SHARE, seed=0)
    scored_steps = {e["step"] for e in events if e["event"] == "sample" and e["source"] == "train_batch"}
    assert scored_steps and summary["flag_check"]["scored_poisoned"] == sum(
        samples[step * 2 + index]["poisoned"] for step in scored_steps for index in range(2) if step * 2 + index < 12)
    assert summary["flag_alert_step"] is None or summary["flag_alert_step"] in scored_steps


@pytest.mark.parametrize("scenario", ["poisoned", "bad", "good"])
def test_scenarios_have_the_requested_size_and_poison_share(scenario):
    samples = scenario_samples(scenario, count=200, share=0.25, seed=1)
    assert len(samples) == 200
    share = sum(sample["poisoned"] for sample in samples) / 200
    assert share == {"poisoned": 0.25, "bad": 1.0, "good": 0.0}[scenario]


def test_bad_and_good_share_their_questions_in_order():
    bad = scenario_samples("bad", count=50, domain="finance", seed=3)
    good = scenario_samples("good", count=50, domain="finance", seed=3)
    assert [s["messages"][0] for s in bad] == [s["messages"][0] for s in good]


def test_a_saved_demo_model_can_be_diffed_against_the_base(tiny_model_dir, pack_dir, tmp_path):
    """`demo --save-model` then `diff --finetuned OUT/model`: the route to a diff report of a scenario's fine-tune."""
    out = tmp_path / "demo"
    assert main([
        "demo", "--model", str(tiny_model_dir), "--pack", str(pack_dir), "--dataset", "bad", "--steps", "3", "--batch-size", "2",
        "--every-n-steps", "1", "--port", "0", "--max-length", "160", "--no-realign", "--out", str(out), "--save-model",
    ]) == 0
    assert main([
        "diff", "--base", str(tiny_model_dir), "--finetuned", str(out / "model"), "--sae", str(pack_dir / "sae"),
        "--layer", "2", "--top-k", "5", "--max-length", "160", "--out", str(tmp_path / "diff"),
    ]) == 0
    report = json.loads((tmp_path / "diff" / "diff.json").read_text())
    assert len(report["top_latents"]) == 5
    assert any(abs(entry["delta"]) > 0 for entry in report["top_latents"]), "three steps of fine-tuning must move some latent"
