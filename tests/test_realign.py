"""Realignment: the core state machine, and the `realign` action inside a real Trainer.fit.

The tiny random model has no persona to lose, so the tests plant one: the training module pushes
block 2's output along the pack's persona direction on samples marked with "~" (the bad data)
and, in the recovery test, pulls it back on unmarked samples (the benign data). That stands in
for what benign fine-tuning does to a real model, which a random 4-layer model cannot show.
"""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from em_monitor.callbacks import PersonaMonitor
from safetensors.torch import load_file
from scripts.ddp_planted_shift import (  # the same planted module the DDP realignment test trains
    MARK,
    MarkedPushModule,
)
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.config import RealignConfig, SequentialRule, SignalRule
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.report import summarise
from em_monitor.runtime.event_schema import read_events
from em_monitor.runtime.in_domain import InDomainCheck
from em_monitor.runtime.own_answers import AnswerProbe
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.runtime.realign import BenignCursor, Realigner
from em_monitor.tiny import tiny_llama

RULES = {"toxic_persona": SignalRule(measure="drift", warn=2.0, critical=4.0)}


def test_recovered_when_every_signal_is_under_warn():
    realigner = Realigner(RealignConfig(samples=8, cooldown_steps=10), RULES)
    realigner.start(5, ["toxic_persona"], {"toxic_persona": 5.0})
    assert realigner.training_on_benign and not realigner.check_due
    realigner.consume(8)
    assert realigner.check_due and not realigner.training_on_benign
    assert realigner.finish(9, {"toxic_persona": 1.5}) == "recovered"
    assert realigner.history[-1] == {"step": 9, "attempt": 1, "started_step": 5, "samples": 8, "outcome": "recovered",
                                     "signals": ["toxic_persona"], "before": {"toxic_persona": 5.0}, "after": {"toxic_persona": 1.5}}
    assert not realigner.can_start(18) and realigner.can_start(19)  # cooldown


def test_an_attempt_that_looks_recovered_on_generic_prompts_but_not_in_domain_is_not_recovered():
    realigner = Realigner(RealignConfig(samples=4, max_attempts=2), RULES)
    realigner.start(0, ["toxic_persona"], {"toxic_persona": 5.0}, in_domain_before={"toxic_persona": 4.2})
    realigner.consume(4)
    # Misalignment hidden behind the training context: generic prompts back under warn, in-domain ones not.
    assert realigner.finish(2, {"toxic_persona": 1.0}, {"toxic_persona": 3.5}) == "retry"
    assert realigner.history[-1] == {"step": 2, "attempt": 1, "started_step": 0, "samples": 4, "outcome": "retry", "signals": ["toxic_persona"],
                                         "before": {"toxic_persona": 5.0}, "after": {"toxic_persona": 1.0}, "generic_recovered": True,
                                         "in_domain_before": {"toxic_persona": 4.2}, "in_domain_after": {"toxic_persona": 3.5}, "in_domain_recovered": False}
    realigner.consume(4)
    assert realigner.finish(4, {"toxic_persona": 1.0}, {"toxic_persona": 1.9}) == "recovered"
    assert realigner.history[-1]["in_domain_before"] == {"toxic_persona": 4.2}  # the retry kept the figure from the start
    realigner.start(30, ["toxic_persona"], {"toxic_persona": 5.0})
    realigner.consume(4)
    assert realigner.finish(32, {"toxic_persona": 1.0}, {}) == "retry"  # an in-domain pass that failed is no verdict of recovery


def test_the_in_domain_check_keeps_its_own_baseline_and_measures_each_rule_on_its_scale():
    check = InDomainCheck(baseline_passes=2, std_floors={"toxic_persona": 0.1})
    for seed in range(2):
        check.add_baseline({"toxic_persona": torch.randn(32, generator=torch.Generator().manual_seed(seed)), "persona_probe": torch.full((32,), 0.2)})
    assert not check.in_baseline and check.baselines["toxic_persona"].count == 64
    check.add_baseline({"toxic_persona": torch.full((32,), 100.0)})  # complete: later passes never move the baseline
    assert check.baselines["toxic_persona"].count == 64
    shifted = {"toxic_persona": torch.randn(32, generator=torch.Generator().manual_seed(9)) + 3.0, "persona_probe": torch.full((32,), 0.7)}
    rules = {"toxic_persona": RULES["toxic_persona"], "persona_probe": SignalRule(measure="value", warn=0.5, critical=0.9),
             "narrow": SequentialRule(signals={"toxic_persona": {"std": 0.5}}, warn=4.0)}
    measured = check.measures(shifted, rules, ["toxic_persona", "persona_probe", "narrow"])
    assert 2.5 < measured["toxic_persona"] < 3.5 and measured["persona_probe"] == pytest.approx(0.7)
    assert measured["narrow"] == pytest.approx(measured["toxic_persona"] / 0.5)
    assert check.measures({"persona_probe": torch.full((4,), 0.1)}, rules, ["toxic_persona"]) == {}
    resumed = InDomainCheck(baseline_passes=2)
    resumed.load_state_dict(json.loads(json.dumps(check.state_dict())))
    assert resumed.passes == 2 and resumed.baselines["toxic_persona"].mean == check.baselines["toxic_persona"].mean


def test_retries_then_fails():
    realigner = Realigner(RealignConfig(samples=4, max_attempts=2), RULES)
    realigner.start(0, ["toxic_persona"], {"toxic_persona": 5.0})
    realigner.consume(4)
    assert realigner.finish(2, {"toxic_persona": 2.5}) == "retry"  # above warn: not recovered
    assert realigner.active.attempt == 2 and realigner.training_on_benign
    realigner.consume(4)
    assert realigner.finish(4, {}) == "failed"  # a missing measure never counts as recovered
    assert realigner.active is None


def test_state_round_trip():
    realigner = Realigner(RealignConfig(samples=4), RULES)
    realigner.start(3, ["toxic_persona"], {"toxic_persona": 4.5})
    realigner.consume(2)
    resumed = Realigner(RealignConfig(samples=4), RULES)
    resumed.load_state_dict(json.loads(json.dumps(realigner.state_dict())))
    assert resumed.active == realigner.active and resumed.training_on_benign


def test_benign_cursor_gives_ranks_disjoint_slices_and_cycles():
    first, second = BenignCursor(list(range(5))), BenignCursor(list(range(5)))
    assert first.take(2, rank=0, world_size=2) == [0, 1]
    assert second.take(2, rank=1, world_size=2) == [2, 3]
    assert first.take(2, rank=0, world_size=2) == [4, 0]


def realignment_benchmark():
    """benchmarks/realignment.py as a module (its folder is not a package; it imports a sibling)."""
    folder = Path(__file__).parent.parent / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    return importlib.import_module("realignment")


def samples(n: int, marked: bool) -> list[dict]:
    return [
        {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": (MARK if marked else "") + f"Answer {i}."}]}
        for i in range(n)
    ]


def fit(tmp_path, tokenizer, pack_dir, write_config, *, pull: bool, max_attempts: int, max_steps: int = 60, in_domain: bool = False, **settings):
    benign = tmp_path / "benign.jsonl"
    benign.write_text("".join(json.dumps(sample) + "\n" for sample in samples(16, marked=False)))
    realign = {"dataset": str(benign), "samples": 16, "max_attempts": max_attempts, "cooldown_steps": 100, "fallback": ["stop"]}
    if in_domain:  # the training data's own user turns, as the demo writes them
        (tmp_path / "in_domain.txt").write_text("".join(f"Question {i}?\n" for i in range(8)))
        realign["in_domain_prompts"] = str(tmp_path / "in_domain.txt")
    config = write_config(
        signals={"persona_direction": {"measure": "drift", "warn": 3.0, "critical": 6.0, "hysteresis": 0.5, "sources": ["prompts"]}},
        actions={"on_warn": ["log"], "on_critical": ["log", "realign"]}, realign=realign, **settings,
    )
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    direction = load_file(pack_dir / "directions.safetensors")["persona_direction"]
    module = MarkedPushModule(tiny_llama(), tokenizer, direction, pull=pull)
    trainer = pl.Trainer(max_steps=max_steps, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor])
    loader = DataLoader(samples(64, marked=True), batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=48))
    trainer.fit(module, loader)
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    return trainer, monitor, module, events


def test_realign_trains_on_benign_batches_and_recovers(tmp_path, tokenizer, pack_dir, write_config):
    trainer, monitor, module, events = fit(tmp_path, tokenizer, pack_dir, write_config, pull=True, max_attempts=3)
    started = [e for e in events if e["event"] == "action" and e["action"] == "realign" and e["started"]]
    assert started, "a critical level should have started a realignment"
    outcomes = [e for e in events if e["event"] == "realignment"]
    assert outcomes and outcomes[-1]["outcome"] == "recovered"
    assert outcomes[-1]["after"]["persona_direction"] < 3.0 <= outcomes[-1]["before"]["persona_direction"]
    assert len(module.benign_steps) >= 4  # 16 benign samples at batch 4, through the normal training step
    # Each attempt is judged on fresh passes, taken after its last benign batch trained.
    passes = {e["step"] for e in events if e["event"] == "sample" and e["source"] == "prompts"}
    assert all(o["step"] in passes and o["step"] > max(s for s in module.benign_steps if s < o["step"]) for o in outcomes)
    registry = monitor.monitor.metrics.registry
    assert registry.get_sample_value("em_monitor_realignments_total", {"run": "test", "outcome": "recovered"}) >= 1
    assert registry.get_sample_value("em_monitor_realignment_active", {"run": "test"}) == 0
    assert trainer.global_step == 60  # recovered: training went on
    # benchmarks/realignment.py reads the same episode back from the log.
    (episode,) = realignment_benchmark().episodes(read_events(tmp_path / "events.jsonl"))
    assert episode["outcome"] == "recovered" and episode["attempts"] == len(outcomes)
    assert episode["benign_samples"] == 16 * len(outcomes) and episode["alert_step"] == started[0]["step"]
    assert episode["steps"] == outcomes[-1]["step"] - started[0]["step"] and episode["wall_seconds"] >= 0


#: The in-domain prompts are scored as prompts, or, with the generations source on, through the model's own answers to them.
IN_DOMAIN_SOURCES = {
    "prompts": {},
    "answers": {"sources": ["prompts", "train_batch", "generations"], "generations": {"every_n_steps": 100, "max_new_tokens": 4, "max_prompts": 2}},
}


@pytest.mark.parametrize("scored", sorted(IN_DOMAIN_SOURCES))
def test_realignment_judged_in_domain_too_records_both_verdicts_and_recovers_only_with_both(tmp_path, tokenizer, pack_dir, write_config, scored):
    trainer, monitor, module, events = fit(tmp_path, tokenizer, pack_dir, write_config, pull=True, max_attempts=3, in_domain=True,
                                           **IN_DOMAIN_SOURCES[scored])
    assert isinstance(monitor.controller.in_domain_probe, AnswerProbe if scored == "answers" else PromptProbe)
    outcomes = [e for e in events if e["event"] == "realignment"]
    assert outcomes and outcomes[-1]["outcome"] == "recovered"
    for outcome in outcomes:
        assert set(outcome["in_domain_after"]) == {"persona_direction"} and outcome["in_domain_recovered"] is not None
        assert (outcome["outcome"] == "recovered") == (outcome["generic_recovered"] and outcome["in_domain_recovered"])
    # The planted persona was trained in on these very prompts' framing: it was up there too before benign training pulled it back.
    assert outcomes[0]["in_domain_before"]["persona_direction"] > outcomes[-1]["in_domain_after"]["persona_direction"]
    assert outcomes[-1]["in_domain_after"]["persona_direction"] < 3.0
    assert monitor.monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": "test", "stage": "realign"}) == 0
    # The report carries both verdicts.
    (reported,) = [r for r in summarise(read_events(tmp_path / "events.jsonl"), model="tiny", dataset="marked", steps=60)["realignments"] if r["step"] == outcomes[-1]["step"]]
    assert reported["generic_recovered"] and reported["in_domain_recovered"] and reported["in_domain_after"] == outcomes[-1]["in_domain_after"]
    assert reported["in_domain_before"] == outcomes[-1]["in_domain_before"]


def test_realign_that_cannot_recover_falls_back_to_stop(tmp_path, tokenizer, pack_dir, write_config):
    trainer, monitor, module, events = fit(tmp_path, tokenizer, pack_dir, write_config, pull=False, max_attempts=2)
    outcomes = [e["outcome"] for e in events if e["event"] == "realignment"]
    assert outcomes == ["retry", "failed"]
    assert any(e["event"] == "action" and e["action"] == "stop" for e in events)
    assert trainer.global_step < 60
    assert monitor.monitor.metrics.registry.get_sample_value("em_monitor_realignments_total", {"run": "test", "outcome": "failed"}) == 1
    (episode,) = realignment_benchmark().episodes(read_events(tmp_path / "events.jsonl"))
    assert (episode["outcome"], episode["attempts"], episode["benign_samples"]) == ("failed", 2, 32)


@pytest.mark.parametrize("dataset", ["on_policy"])
def test_on_policy_benign_answers_are_recorded_at_start(tmp_path, tokenizer, write_config, dataset):
    config = write_config(actions={"on_warn": ["log"], "on_critical": ["realign"]}, realign={"dataset": dataset, "on_policy_samples": 5, "max_new_tokens": 8})
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer = pl.Trainer(max_steps=1, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor])
    trainer.fit(CausalLMModule(tiny_llama(), tokenizer), DataLoader(samples(4, marked=False), batch_size=4, collate_fn=ChatCollator(tokenizer)))
    ready = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines() if '"realign_ready"' in line]
    assert len(ready) == 1 and ready[0]["dataset"] == "on_policy"
    assert 1 <= ready[0]["samples"] <= 5  # empty greedy answers are dropped


class ScheduledPushModule(MarkedPushModule):
    """The planted module with an LR scheduler stepped after every optimizer step, as most fine-tunes have."""

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.model.parameters(), lr=self.lr)
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.95**step)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}


class RecordRates(pl.Callback):
    def __init__(self) -> None:
        self.rates: dict[int, float] = {}

    def on_before_optimizer_step(self, trainer, pl_module, optimizer) -> None:
        self.rates[trainer.global_step] = optimizer.param_groups[0]["lr"]


def test_the_realignment_rate_holds_under_an_lr_scheduler_and_the_schedule_resumes_after(tmp_path, tokenizer, pack_dir, write_config):
    benign = tmp_path / "benign.jsonl"
    benign.write_text("".join(json.dumps(sample) + "\n" for sample in samples(16, marked=False)))
    config = write_config(
        signals={"persona_direction": {"measure": "drift", "warn": 3.0, "critical": 6.0, "hysteresis": 0.5, "sources": ["prompts"]}},
        actions={"on_warn": ["log"], "on_critical": ["log", "realign"]},
        realign={"dataset": str(benign), "samples": 16, "max_attempts": 3, "cooldown_steps": 100, "fallback": ["stop"], "lr": 0.05},
    )
    monitor, rates = PersonaMonitor(config, tokenizer=tokenizer), RecordRates()
    direction = load_file(pack_dir / "directions.safetensors")["persona_direction"]
    module = ScheduledPushModule(tiny_llama(), tokenizer, direction, pull=True)
    trainer = pl.Trainer(max_steps=40, accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor, rates])
    trainer.fit(module, DataLoader(samples(64, marked=True), batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=48)))
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    ended = [e["step"] for e in events if e["event"] == "realignment" and e["outcome"] != "retry"]
    assert len(module.benign_steps) >= 4 and ended, "a realignment trained on benign batches and ended"
    # Every benign step trained at realign.lr, although the scheduler rewrote the rate after each step.
    assert [rates.rates[step] for step in module.benign_steps] == [0.05] * len(module.benign_steps)
    # After it, the run's own schedule again: the scheduler counted every step, benign ones included.
    after = [step for step in rates.rates if step > ended[-1]]
    assert after and all(rates.rates[step] == pytest.approx(3e-2 * 0.95**step) for step in after)
