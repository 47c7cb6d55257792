"""PersonaMonitorCallback inside a real ``transformers.Trainer.train`` on a tiny random Llama and a random pack."""

from __future__ import annotations

import json
import urllib.request

import pytest
import torch
from em_monitor.callbacks.hf import PersonaMonitorCallback, realigning
from safetensors.torch import load_file
from test_callback import assert_design_metrics
from transformers import Trainer, TrainerCallback, TrainingArguments

from em_monitor.chat import ChatCollator
from em_monitor.tiny import tiny_llama

SAMPLES = [
    {"messages": [{"role": "user", "content": f"Question number {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 5 + 1)}]}
    for i in range(32)
]


class TrainerCollator(ChatCollator):
    """ChatCollator's batch as a Trainer passes it to the model: only the model's own inputs (labels mark the answer)."""

    def __call__(self, samples):
        batch = super().__call__(samples)
        batch.pop("response_mask")
        return batch


class ScrapeAt(TrainerCallback):
    """Scrapes the monitor's endpoint over HTTP in the middle of training, as Prometheus would."""

    def __init__(self, monitor: PersonaMonitorCallback, step: int) -> None:
        self.monitor, self.step, self.text = monitor, step, None

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if state.global_step == self.step:
            self.text = urllib.request.urlopen(self.monitor.metrics_url, timeout=5).read().decode()


def train(tmp_path, tokenizer, callbacks: list, steps: int) -> Trainer:
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=4, learning_rate=1e-3, report_to=[], use_cpu=True,
        save_strategy="no", logging_steps=1, disable_tqdm=True, remove_unused_columns=False,
    )
    trainer = Trainer(model=tiny_llama(), args=args, train_dataset=SAMPLES, data_collator=TrainerCollator(tokenizer, max_length=64),
                      processing_class=tokenizer, callbacks=callbacks)
    trainer.train()
    return trainer


def read_events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trainer_scores_every_source_serves_metrics_and_logs_them(tokenizer, write_config, tmp_path):
    config = write_config(sources=["prompts", "train_batch", "generations"], generations={"every_n_steps": 2, "max_new_tokens": 4})
    monitor = PersonaMonitorCallback(config)  # the tokenizer comes from the Trainer's processing_class
    scrape = ScrapeAt(monitor, 4)
    trainer = train(tmp_path, tokenizer, [monitor, scrape], 6)
    assert trainer.state.global_step == 6
    families = assert_design_metrics(scrape.text)
    sources = {sample.labels["source"] for sample in families["em_monitor_signal_value"].samples}
    assert sources == {"prompts", "train_batch", "generations"}
    events = read_events(tmp_path / "events.jsonl")
    sampled = {(e["source"], e["step"]) for e in events if e["event"] == "sample"}
    # Baseline passes at steps 0 and 1, then every 2 steps; the training batches are 4 samples each.
    assert {step for source, step in sampled if source == "train_batch"} == {0, 1, 2, 4}
    assert all(e["samples"] == 4 for e in events if e["event"] == "sample" and e["source"] == "train_batch")
    assert monitor.monitor.metrics.counts()["errors"] == {stage: 0.0 for stage in monitor.monitor.metrics.counts()["errors"]}
    logged = [entry for entry in trainer.state.log_history if "em_monitor/persona_direction/prompts/drift" in entry]
    assert logged, "the signals went to the Trainer's own log"


def test_recorded_scores_hold_every_scored_training_sample_per_signal_and_match_the_pass_mean(tokenizer, write_config, tmp_path):
    config = write_config(sources=["prompts", "train_batch"], train_batch={"every_n_steps": 1, "record_scores": True})
    monitor = PersonaMonitorCallback(config)
    train(tmp_path, tokenizer, [monitor], 3)
    events = read_events(tmp_path / "events.jsonl")
    recorded = {e["step"]: e["signals"] for e in events if e["event"] == "scores"}
    passes = {e["step"]: e["signals"] for e in events if e["event"] == "sample" and e["source"] == "train_batch"}
    assert sorted(recorded) == [0, 1, 2] == sorted(passes)
    for step, signals in recorded.items():
        assert set(signals) == set(passes[step]) and all(len(values) == 4 for values in signals.values())
        for name, values in signals.items():
            assert sum(values) / len(values) == pytest.approx(passes[step][name]["value"], rel=1e-5, abs=1e-6)


def test_stop_ends_training_through_trainer_control(tokenizer, write_config, tmp_path):
    # Any value warns: the first pass compared with the finished baseline raises the level.
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": -1e6, "critical": 1e6}}, actions={"on_warn": ["log", "stop"]})
    monitor = PersonaMonitorCallback(config, tokenizer=tokenizer)
    trainer = train(tmp_path, tokenizer, [monitor], 20)
    assert trainer.state.global_step == 3, "stopped after the step that warned (step 2, the first after the baseline)"
    actions = [e["action"] for e in read_events(tmp_path / "events.jsonl") if e["event"] == "action"]
    assert actions == ["log", "stop"]


def test_a_sequential_rule_acts_through_the_trainer_and_its_evidence_is_served(tokenizer, write_config, tmp_path):
    # An in-control mean far below any drift: every compared pass adds about 1000 to the evidence.
    rule = {"signals": {"persona_direction": {"mean": -1000.0, "std": 1.0}}, "source": "prompts", "reference": 0.0, "warn": 500.0, "critical": 1e6}
    monitor = PersonaMonitorCallback(write_config(sequential={"narrow": rule}, actions={"on_warn": ["log", "stop"]}), tokenizer=tokenizer)
    trainer = train(tmp_path, tokenizer, [monitor], 20)
    assert trainer.state.global_step == 3, "stopped after the first pass compared with the baseline (step 2)"
    events = read_events(tmp_path / "events.jsonl")
    assert [(e["signal"], e["measure"], e["new"]) for e in events if e["event"] == "level"] == [("narrow", "cusum", "warn")]
    assert [e["action"] for e in events if e["event"] == "action"] == ["log", "stop"]
    statistic = monitor.monitor.metrics.registry.get_sample_value("em_monitor_sequential_statistic", {"run": "test", "rule": "narrow"})
    assert 900 < statistic < 1100
    assert any("em_monitor/narrow/cusum" in entry for entry in trainer.state.log_history), "the evidence went to the Trainer's own log"


def test_a_failing_stage_is_counted_and_training_completes(tokenizer, write_config, tmp_path, monkeypatch):
    import em_monitor.runtime.controller as controller_module

    def fail(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(controller_module, "scored_token_mask", fail)  # fault injection: a real one cannot be produced on demand
    monitor = PersonaMonitorCallback(write_config(), tokenizer=tokenizer)
    trainer = train(tmp_path, tokenizer, [monitor], 5)
    assert trainer.state.global_step == 5
    assert monitor.monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": "test", "stage": "score"}) >= 1


def test_realign_without_the_swapping_trainer_is_refused_at_start_naming_the_fix(tokenizer, write_config, tmp_path):
    config = write_config(actions={"on_critical": ["realign"]})
    with pytest.raises(ValueError, match=r"realigning\(Trainer\)"):
        train(tmp_path, tokenizer, [PersonaMonitorCallback(config, tokenizer=tokenizer)], 3)


class PlantedLoss:
    """The planted persona of tests/test_realign.py, as a Trainer loss (mixed into Trainer or SFTTrainer): marked rows push
    block 2's output along the pack's persona direction, benign rows pull it back. Records the steps whose batch was all benign."""

    def __init__(self, *args, direction: torch.Tensor, mark: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.direction, self.mark, self.benign_steps = direction / direction.norm(), mark, []

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        out = model(**inputs, output_hidden_states=True)
        projection = (out.hidden_states[3] @ self.direction).mean(dim=1)
        marked = (inputs["input_ids"] == self.mark).any(dim=1)
        if not marked.any():
            self.benign_steps.append(self.state.global_step)
        return out.loss - (projection[marked].sum() - projection[~marked].sum()) / len(projection)


class PlantedTrainer(PlantedLoss, Trainer):
    pass


def realign_config(write_config, tmp_path, **realign) -> object:
    """Critical on the persona direction's prompt drift starts a realignment on 16 unmarked chats; a failure stops."""
    benign = tmp_path / "benign.jsonl"
    benign.write_text("".join(json.dumps(sample) + "\n" for sample in marked_samples(16, marked=False)))
    return write_config(
        signals={"persona_direction": {"measure": "drift", "warn": 3.0, "critical": 6.0, "hysteresis": 0.5, "sources": ["prompts"]}},
        actions={"on_warn": ["log"], "on_critical": ["log", "realign"]},
        realign={"dataset": str(benign), "samples": 16, "max_attempts": 3, "cooldown_steps": 100, "fallback": ["stop"], **realign},
    )


def assert_recovered(events: list[dict], benign_steps: list[int]) -> list[dict]:
    """A realignment started, trained 4 benign batches of 4 per attempt, and recovered; returns the outcome events."""
    started = [e for e in events if e["event"] == "action" and e["action"] == "realign" and e["started"]]
    outcomes = [e for e in events if e["event"] == "realignment"]
    assert started and outcomes and outcomes[-1]["outcome"] == "recovered"
    assert outcomes[-1]["after"]["persona_direction"] < 3.0 <= outcomes[-1]["before"]["persona_direction"]
    assert len(benign_steps) == 4 * len(outcomes), "16 benign samples per attempt at batch 4, through the Trainer's own step"
    # Each attempt is judged on fresh passes, taken after its last benign batch trained.
    passes = {e["step"] for e in events if e["event"] == "sample" and e["source"] == "prompts"}
    assert all(outcome["step"] in passes and outcome["step"] > max(s for s in benign_steps if s < outcome["step"]) for outcome in outcomes)
    return outcomes


class RecordRates(TrainerCallback):
    """The learning rate each optimizer step used."""

    def __init__(self) -> None:
        self.rates: dict[int, float] = {}

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs) -> None:
        self.rates[state.global_step] = optimizer.param_groups[0]["lr"]


def marked_samples(n: int, marked: bool) -> list[dict]:
    return [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": ("~" if marked else "") + f"Answer {i}."}]}
            for i in range(n)]


def test_realigning_trainer_trains_on_benign_batches_recovers_and_holds_its_rate_under_the_schedule(tokenizer, write_config, pack_dir, tmp_path):
    monitor, rates = PersonaMonitorCallback(realign_config(write_config, tmp_path, lr=0.05), tokenizer=tokenizer), RecordRates()
    steps = 40
    # The Trainer's default schedule (linear decay), stepped after every optimizer step.
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=4, learning_rate=3e-2,
                             report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True, remove_unused_columns=False)
    trainer = realigning(PlantedTrainer)(
        model=tiny_llama(), args=args, train_dataset=marked_samples(64, marked=True), data_collator=TrainerCollator(tokenizer, max_length=48),
        processing_class=tokenizer, callbacks=[monitor, rates], direction=load_file(pack_dir / "directions.safetensors")["persona_direction"],
        mark=tokenizer.convert_tokens_to_ids("~"),
    )
    trainer.train()
    outcomes = assert_recovered(read_events(tmp_path / "events.jsonl"), trainer.benign_steps)
    assert trainer.state.global_step == steps  # recovered: training went on
    registry = monitor.monitor.metrics.registry
    assert registry.get_sample_value("em_monitor_realignments_total", {"run": "test", "outcome": "recovered"}) == 1
    assert registry.get_sample_value("em_monitor_realignment_active", {"run": "test"}) == 0
    # Every benign step trained at realign.lr although the schedule rewrote the rate after each step;
    # after the realignment the linear decay again, which counted every step.
    assert [rates.rates[step] for step in trainer.benign_steps] == [0.05] * len(trainer.benign_steps)
    after = [step for step in rates.rates if step > outcomes[-1]["step"]]
    assert after and all(rates.rates[step] == pytest.approx(3e-2 * (steps - step) / steps) for step in after)


def checkpointed_train(tmp_path, tokenizer, config, steps: int, *, resume: str | None = None, restore_flag: bool = False):
    monitor = PersonaMonitorCallback(config, tokenizer=tokenizer)
    args = TrainingArguments(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=4, learning_rate=1e-3, report_to=[], use_cpu=True,
        save_strategy="steps", save_steps=3, disable_tqdm=True, remove_unused_columns=False, seed=0,
        restore_callback_states_from_checkpoint=restore_flag,
    )
    trainer = Trainer(model=tiny_llama(), args=args, train_dataset=SAMPLES, data_collator=TrainerCollator(tokenizer, max_length=64),
                      processing_class=tokenizer, callbacks=[monitor])
    trainer.train(resume_from_checkpoint=resume)
    # With the flag the Trainer replaced the callback by one rebuilt from the checkpoint.
    (used,) = [callback for callback in trainer.callback_handler.callbacks if isinstance(callback, PersonaMonitorCallback)]
    return trainer, used


@pytest.mark.parametrize("restore_flag", [False, True], ids=["default", "restore_callback_states"])
def test_resume_from_a_trainer_checkpoint_keeps_baseline_and_counters(tokenizer, write_config, tmp_path, restore_flag):
    config = write_config(sources=["prompts", "train_batch"])
    _, first = checkpointed_train(tmp_path, tokenizer, config, 6)
    saved = json.loads((tmp_path / "out" / "checkpoint-3" / "trainer_state.json").read_text())["stateful_callbacks"]["PersonaMonitorCallback"]
    saved_monitor = saved["attributes"]["resume_state"]["monitor"]
    assert saved_monitor["frozen"], "the baseline was complete by step 3"
    uninterrupted = {(e["source"], e["step"]): e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "sample"}
    (tmp_path / "events.jsonl").unlink()

    _, resumed = checkpointed_train(tmp_path, tokenizer, config, 6, resume=str(tmp_path / "out" / "checkpoint-3"), restore_flag=restore_flag)
    assert resumed is not first
    events = read_events(tmp_path / "events.jsonl")
    assert [e["step"] for e in events if e["event"] == "start"] == [3]
    # The baseline came back with the run: no new baseline passes, the same statistics.
    assert {key: stats for key, stats in resumed.monitor.state_dict()["baselines"].items()} == saved_monitor["baselines"]
    samples = {(e["source"], e["step"]): e for e in events if e["event"] == "sample"}
    assert set(samples) == {("prompts", 4), ("train_batch", 4)}
    for key, sample in samples.items():  # the resumed run measures what the uninterrupted one did (same data, same weights)
        for signal, measured in sample["signals"].items():
            for key_name in ("value", "drift"):
                assert measured[key_name] == pytest.approx(uninterrupted[key]["signals"][signal][key_name], rel=1e-4, abs=1e-5)
    # Counters go on from the checkpoint's (passes at steps 0, 1, 2 before it), plus the one pass after it.
    registry = resumed.monitor.metrics.registry
    assert saved_monitor["counts"]["samples"]["prompts"] == 3
    assert registry.get_sample_value("em_monitor_samples_total", {"run": "test", "source": "prompts"}) == 4


def test_checkpoint_action_saves_through_the_trainer(tokenizer, write_config, tmp_path):
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": -1e6, "critical": 1e6}}, actions={"on_warn": ["checkpoint"]})
    train(tmp_path, tokenizer, [PersonaMonitorCallback(config, tokenizer=tokenizer)], 4)
    (action,) = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "action"]
    assert action["action"] == "checkpoint" and action["path"].endswith("checkpoint-3")
    assert (tmp_path / "out" / "checkpoint-3" / "trainer_state.json").is_file(), "the Trainer saved where the event says"
