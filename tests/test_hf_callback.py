"""PersonaMonitorCallback inside a real ``transformers.Trainer.train`` on a tiny random Llama and a random pack."""

from __future__ import annotations

import json
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families
from transformers import Trainer, TrainerCallback, TrainingArguments

from em_monitor.callbacks.hf import PersonaMonitorCallback
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
    families = {family.name: family for family in text_string_to_metric_families(scrape.text)}
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


def test_stop_ends_training_through_trainer_control(tokenizer, write_config, tmp_path):
    # Any value warns: the first pass compared with the finished baseline raises the level.
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": -1e6, "critical": 1e6}}, actions={"on_warn": ["log", "stop"]})
    monitor = PersonaMonitorCallback(config, tokenizer=tokenizer)
    trainer = train(tmp_path, tokenizer, [monitor], 20)
    assert trainer.state.global_step == 3, "stopped after the step that warned (step 2, the first after the baseline)"
    actions = [e["action"] for e in read_events(tmp_path / "events.jsonl") if e["event"] == "action"]
    assert actions == ["log", "stop"]


def test_a_failing_stage_is_counted_and_training_completes(tokenizer, write_config, tmp_path, monkeypatch):
    import em_monitor.controller as controller_module

    def fail(*args, **kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(controller_module, "scored_token_mask", fail)  # fault injection: a real one cannot be produced on demand
    monitor = PersonaMonitorCallback(write_config(), tokenizer=tokenizer)
    trainer = train(tmp_path, tokenizer, [monitor], 5)
    assert trainer.state.global_step == 5
    assert monitor.monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": "test", "stage": "score"}) >= 1


def test_realign_is_refused_at_start_naming_the_fix(tokenizer, write_config, tmp_path):
    config = write_config(actions={"on_critical": ["realign"]})
    with pytest.raises(ValueError, match="`realign` is not supported with PersonaMonitorCallback yet"):
        train(tmp_path, tokenizer, [PersonaMonitorCallback(config, tokenizer=tokenizer)], 3)


def test_checkpoint_action_saves_through_the_trainer(tokenizer, write_config, tmp_path):
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": -1e6, "critical": 1e6}}, actions={"on_warn": ["checkpoint"]})
    train(tmp_path, tokenizer, [PersonaMonitorCallback(config, tokenizer=tokenizer)], 4)
    (action,) = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "action"]
    assert action["action"] == "checkpoint" and action["path"].endswith("checkpoint-3")
    assert (tmp_path / "out" / "checkpoint-3" / "trainer_state.json").is_file(), "the Trainer saved where the event says"
