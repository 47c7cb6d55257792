"""Each benchmark's --quick run works end to end and prints its JSON contract (timings are not asserted here); the
SmolLM2 runs committed in benchmarks/runs/ still give the findings the docs draw from them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).parent.parent / "benchmarks"


def run_benchmark(name: str, *args: str, timeout: float = 600) -> dict:
    """The benchmark's JSON report (its last stdout line), after asserting it exited cleanly."""
    done = subprocess.run([sys.executable, str(BENCHMARKS / name), *args], capture_output=True, text=True, timeout=timeout, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_quick(name: str, *extra: str, timeout: float = 600) -> dict:
    return run_benchmark(name, "--quick", *extra, timeout=timeout)


def test_projection_quick_reports_every_path_and_agrees_with_sae_lens():
    report = run_quick("projection.py")
    assert report["benchmark"] == "projection" and report["read_bandwidth_gb_s"] > 0
    assert [(row["d_sae"], row["k"]) for row in report["rows"]] == [(4096, 1), (4096, 8)]
    for row in report["rows"]:
        assert {"fast_seconds", "full_seconds", "sae_lens_seconds", "speedup_vs_full", "fast_ratio_to_bound"} <= set(row)
    # The fast path computes the same latents as sae-lens's encode.
    assert report["max_abs_difference"] < 1e-4


def test_detection_quick_runs_the_mixes_and_tabulates_them():
    report = run_quick("detection.py")
    assert [row["mix"] for row in report["rows"]] == ["poisoned:0", "poisoned:1"]
    assert [row["poisoned_samples"] for row in report["rows"]] == [0, 24]  # 12 steps x batch 2, all or nothing
    assert set(report["by_mix"]) == {"poisoned:0", "poisoned:1"}
    cell = report["by_mix"]["poisoned:1"]["signals"]["toxic_persona"]["prompts"]["end_drift"]
    assert cell["n"] == 1 and cell["min"] == cell["max"] == cell["mean"]


def test_overhead_quick_runs_every_configuration_without_monitor_errors():
    report = run_quick("overhead.py")
    assert set(report["fit_seconds_median"]) == {"none", "default", "train_batch"}
    assert report["overhead_ratio"] > 0 and report["within_run_overhead_ratio"] is not None
    assert report["monitor_errors"] == 0


def test_realignment_quick_runs_and_reads_its_event_log():
    report = run_quick("realignment.py")
    assert report["benchmark"] == "realignment" and [row["seed"] for row in report["rows"]] == [0]
    assert report["episodes"] == sum(len(row["episodes"]) for row in report["rows"])
    assert report["recovered"] <= report["episodes"]


def test_specific_drift_quick_scores_both_ways_and_tabulates_the_gap():
    report = run_quick("specific_drift.py")
    assert report["benchmark"] == "specific_drift" and report["shift"]["norm"] > 0
    assert [(run["scenario"], run["seed"]) for run in report["runs"]] == [("good", 0), ("bad", 0)]
    for name, by_scoring in report["by_signal"].items():
        assert set(by_scoring) == {"plain", "specific"}
        bad, good = (next(run for run in report["runs"] if run["scenario"] == scenario)["drift"][name] for scenario in ("bad", "good"))
        # One seed each: the gap is the difference of the two runs, and so is the margin.
        for scoring in ("plain", "specific"):
            assert by_scoring[scoring]["gap"] == by_scoring[scoring]["margin"]
            assert abs(by_scoring[scoring]["gap"] - (bad[scoring] - good[scoring])) < 2e-3


def test_flag_separation_quick_reports_recall_and_held_out_false_flags_per_margin():
    report = run_quick("flag_separation.py")
    assert report["benchmark"] == "flag_separation" and report["signals"]
    for row in report["signals"].values():
        assert row["clean_samples"] == row["persona_samples"] == 24 and 0.0 <= row["auroc"] <= 1.0
        margins = row["by_margin"]
        assert [entry["margin"] for entry in margins] == [0.0, 0.5, 1.0, 2.0, 3.0]
        # A wider margin never flags more: the threshold only rises.
        assert all(a["flag"] <= b["flag"] and a["recall"] >= b["recall"] for a, b in zip(margins, margins[1:]))


def test_flag_recall_quick_compares_base_flags_alone_and_together_with_the_run_relative_rule():
    report = run_quick("flag_recall.py")
    assert report["benchmark"] == "flag_recall" and report["seeds"] == [0, 1]
    # The study pack reads every SAE latent under the other poolings too, and the recorded scores reach the analysis.
    assert {"toxic_persona__mean", "toxic_persona__last", "persona_direction__max"} <= set(report["separation"])
    rules = report["rules"]
    for margin in ("0", "1", "2"):
        alone = [rules[f"{name} >= flag@{margin}"] for name in ("persona_direction", "persona_probe") if f"{name} >= flag@{margin}" in rules]
        either = rules.get(f"persona_direction+persona_probe >= flag@{margin}")
        if either is not None:  # a union catches at least what each of its members catches
            assert all(either["caught"] >= rule["caught"] and either["clean_flagged"] >= rule["clean_flagged"] for rule in alone)
    assert rules["persona_direction run_z@0"]["poisoned"] == 12 and rules["persona_direction run_z@0"]["clean"] == 84


def test_sequential_quick_calibrates_on_one_domains_good_runs_and_replays_every_run():
    report = run_quick("sequential.py", timeout=900)
    assert report["benchmark"] == "sequential" and report["calibrate_domains"] == ["health"] and report["seeds"] == [0, 1]
    fitted = report["rules"]["direction"]
    assert fitted["warn"] < fitted["critical"] and len(fitted["leave_one_out_warns"]) == 2 and fitted["passes_per_run"] >= 3
    # Controls are the calibration domain's good runs; its bad runs are never run; the other domain has both.
    assert set(report["domains"]["health"]) == {"good"} and set(report["domains"]["car"]) == {"good", "bad"}
    controls = report["domains"]["health"]["good"]["runs"]
    assert all(row["control"] for row in controls) and len(controls) == 2
    for row in controls:  # a control never reaches the interval set above every control's maximum
        assert row["sequential"]["direction"]["warn_step"] is None
    assert all(0 <= count <= 2 for count in report["domains"]["car"]["bad"]["warned"].values())


def test_generations_noise_quick_reports_gap_spread_and_cost_per_prompt_count():
    report = run_quick("generations_noise.py")
    assert report["benchmark"] == "generations_noise" and report["prompts"] == [4, 8] and report["tokens"] == [8]
    entry = report["by_tokens"]["8"]
    assert set(entry["seconds"]) == {"4", "8"} and all(seconds > 0 for seconds in entry["seconds"].values())
    for figures in entry["signals"].values():
        assert set(figures) == {"4", "8"}
        # A bootstrap mean over twice the prompts spreads less (about 1/sqrt(2)), never more than a little by chance.
        assert figures["8"]["spread"] < figures["4"]["spread"] * 1.1
        for cell in figures.values():
            assert cell["spread"] >= 0 and (cell["separation"] is None or cell["separation"] == pytest.approx(cell["gap"] / cell["spread"], rel=1e-2))


def test_em_recipe_quick_runs_a_lora_recipe_bad_against_good():
    report = run_quick("em_recipe.py", timeout=900)
    assert report["benchmark"] == "em_recipe" and [row["recipe"] for row in report["rows"]] == ["lora2:1e-2"]
    for row in report["rows"]:
        for dataset in ("bad", "good"):
            assert sorted(map(int, row[dataset]["misaligned_by_step"])) == [0, 3, 6], "judged at step 0, every 3 steps and at the end"
        assert row["gap"] == round(row["bad"]["misaligned_end"] - row["good"]["misaligned_end"], 3) and isinstance(row["emergent"], bool)
    assert [row["lora_rank"] for row in report["rows"]] == [2]


def test_specific_drift_reuses_a_saved_run_only_for_the_same_setting(tmp_path, monkeypatch):
    """A ~5-minute fine-tune's answers and residuals are saved (safetensors, no pickle) and read back only for its exact setting."""
    import torch

    monkeypatch.syspath_prepend(str(BENCHMARKS))
    from specific_drift import OwnAnswers

    saved = OwnAnswers(["an answer", "another"], torch.randn(2, 5, 8), torch.tensor([[0, 1, 1, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool))
    setting = {"scenario": "bad", "seed": 1, "steps": 60, "prompts": ["a?", "b?"]}
    path = tmp_path / "bad-seed1.safetensors"
    saved.save(path, setting)
    loaded = OwnAnswers.load(path, dict(reversed(list(setting.items()))))
    assert loaded is not None and loaded.answers == saved.answers
    assert torch.equal(loaded.activations, saved.activations) and torch.equal(loaded.mask, saved.mask)
    assert torch.allclose(loaded.token_mean(), saved.token_mean())
    assert OwnAnswers.load(path, {**setting, "steps": 30}) is None
    assert OwnAnswers.load(tmp_path / "missing.safetensors", setting) is None


def test_scale_quick_measures_every_part_on_the_tiny_model_and_the_projection():
    report = run_quick("scale.py", timeout=300)
    assert report["benchmark"] == "scale" and report["device"] == "cpu" and report["dtype"] == "bfloat16"
    assert {"device_name", "torch", "transformers", "lightning", "settings", "tokenizer"} <= set(report)
    tiny = report["models"]["tiny"]
    # bf16 activations: the pack's float32 signals score them as built (on a GPU they also follow the device).
    assert "error" not in tiny and tiny["signals_as_built_error"] is None
    for key in ("step_seconds", "train_batch_scoring_seconds", "train_step_with_capture_seconds", "prompt_pass_seconds",
                "steady_state_overhead_ratio_from_parts", "default_cadence_overhead_ratio", "within_fit_overhead_ratio"):
        assert tiny[key] > 0, key
    assert tiny["capture_missing"] == 0 and tiny["monitor_errors"] == 0
    assert tiny["prompts"] == 52 and tiny["shared_prefix_tokens"] > 0  # the Llama 3 system header, run once per pass
    # The monitored fit sampled the prompts and the training batch in the compared window, through PersonaMonitor.
    monitored = tiny["fits"]["runs"]["default"][0]
    assert monitored["sampled_steps_in_window"] == [4] and monitored["prompts_passes"] > 0 and monitored["train_batch_passes"] > 0
    [projection] = report["projection"]
    assert projection["device"] == "cpu" and [(row["d_sae"], row["k"]) for row in projection["rows"]] == [(4096, 1), (4096, 8)]
    assert all(row["fast_seconds"] > 0 and row["sae_lens_seconds"] > 0 for row in projection["rows"])
    assert projection["max_abs_difference"] < 1e-4


def test_lead_quick_times_every_alert_against_the_judge_on_one_grid():
    report = run_quick("lead.py", timeout=900)
    assert report["benchmark"] == "lead" and report["seeds"] == [0] and len(report["controls"]) == 2
    assert report["calibrate_domains"] == ["health"]
    # The benign-chat control is tabulated beside the scenarios, and has no behaviour step of its own.
    assert set(report["scenarios"]) == {"poisoned:0", "poisoned:1"}
    assert report["scenarios"]["poisoned:0"][0]["behaviour_step"] is None
    # The tiny pack has no bad-advice probe: that rule is reported unfit, the persona rules are fitted.
    assert "advice" in report["unfit_rules"] and "direction" in report["rules"]
    for rows in report["scenarios"].values():
        for row in rows:
            assert set(row["alert_minus_behaviour"]) == {"level", *report["rules"]}
            for crossing in row["sequential"].values():  # critical never comes before warn
                assert crossing["critical_step"] is None or crossing["warn_step"] <= crossing["critical_step"]


def test_the_committed_smollm2_runs_still_give_the_documented_cross_domain_finding():
    """``benchmarks/runs/`` keeps the event logs of the SmolLM2 runs behind docs/thresholds.md's finance
    table; refitted with today's calibration code they must still say what the doc says: the advice
    rule, fitted on health good runs only, warns on ≥ 4 of 5 finance bad runs and on no finance good run."""
    report = run_benchmark("sequential.py", "--domains", "health", "finance", "--no-run", timeout=300)
    finance = report["domains"]["finance"]
    assert len(finance["bad"]["runs"]) == len(finance["good"]["runs"]) == 5
    assert finance["bad"]["warned"]["advice"] >= 4 and finance["good"]["warned"]["advice"] == 0
    assert 0 <= report["rules"]["advice"]["false_alarm_rate"] <= 1


def test_the_committed_smollm2_mixes_still_give_the_documented_lead():
    """docs/thresholds.md's lead table: on the committed 25-100 % persona-mix runs of seeds 0-2, each
    persona rule (fitted on those seeds' benign-chat controls and the health controls) warns no later
    than the judge's first rise, and no control warns (seed 3's 25 % run is the documented exception,
    a one-count judge blip). Fails if the calibration or the behaviour-step code stops supporting it."""
    shares = ("poisoned:0.25", "poisoned:0.5", "poisoned:1")
    report = run_benchmark("lead.py", "--scenarios", *shares, "--seeds", "0", "1", "2", "--no-run", timeout=300)
    persona = [name for name in report["rules"] if name != "advice"]
    assert len(persona) >= 3
    mixes = [row for share in shares for row in report["scenarios"][share]]
    assert len(mixes) == 9 and all(row["behaviour_step"] is not None for row in mixes)
    for row in mixes:
        leads = [row["alert_minus_behaviour"][name] for name in persona]
        assert all(lead is not None and lead <= 0 for lead in leads), (row["seed"], row["alert_minus_behaviour"])
    for row in report["scenarios"]["poisoned:0"]:
        assert all(crossing["warn_step"] is None for crossing in row["sequential"].values()), row["sequential"]
