"""PersonaMonitorCallback inside a real TRL ``SFTTrainer.train`` on a tiny random Llama, a random pack and a conversational dataset.

SFTTrainer tokenizes the ``messages`` itself (the tokenizer's ChatML template) and collates with its
own collator, so these tests check that the callback reads SFTTrainer's batches, not only the
plain Trainer's (tests/test_hf_callback.py).
"""

from __future__ import annotations

import json

from datasets import Dataset
from em_monitor.callbacks.hf import PersonaMonitorCallback, realigning
from safetensors.torch import load_file
from test_callback import assert_design_metrics
from test_hf_callback import (
    PlantedLoss,
    ScrapeAt,
    assert_recovered,
    marked_samples,
    realign_config,
)
from transformers import TrainerCallback
from trl import SFTConfig, SFTTrainer

from em_monitor.tiny import tiny_llama

BATCH_SIZE = 4


def conversations() -> Dataset:
    """A conversational dataset in TRL's ``messages`` format."""
    return Dataset.from_list([
        {"messages": [{"role": "user", "content": f"Question number {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 5 + 1)}]}
        for i in range(32)
    ])


class KeepBatches(TrainerCallback):
    """Records the shape of every batch the model's training forward received (what SFTTrainer's collator made)."""

    def __init__(self) -> None:
        self.shapes: list[tuple[int, ...]] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs) -> None:
        model.register_forward_pre_hook(lambda module, a, kw: self.shapes.append(tuple(kw["input_ids"].shape)) if module.training else None,
                                        with_kwargs=True)


class CountSequences(TrainerCallback):
    """Counts the conversations in each training forward of a packed (padding-free) batch: one row, ``position_ids`` restart at 0 per conversation."""

    def __init__(self) -> None:
        self.counts: list[int] = []

    def on_train_begin(self, args, state, control, model=None, **kwargs) -> None:
        model.register_forward_pre_hook(lambda module, a, kw: self.counts.append(int((kw["position_ids"] == 0).sum())) if module.training else None,
                                        with_kwargs=True)


def sft(tmp_path, tokenizer, callbacks: list, steps: int, **config) -> SFTTrainer:
    args = SFTConfig(
        output_dir=str(tmp_path / "out"), max_steps=steps, per_device_train_batch_size=BATCH_SIZE, learning_rate=1e-3, max_length=64,
        report_to=[], use_cpu=True, save_strategy="no", logging_steps=1, disable_tqdm=True, **config,
    )
    trainer = SFTTrainer(model=tiny_llama(), args=args, train_dataset=conversations(), processing_class=tokenizer, callbacks=callbacks)
    trainer.train()
    return trainer


def read_events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_sft_trainer_serves_every_design_metric_and_scores_its_batches(tokenizer, write_config, tmp_path):
    config = write_config(sources=["prompts", "train_batch", "generations"], generations={"every_n_steps": 2, "max_new_tokens": 4})
    monitor = PersonaMonitorCallback(config)  # the tokenizer comes from SFTTrainer's processing_class
    scrape, batches = ScrapeAt(monitor, 5), KeepBatches()
    trainer = sft(tmp_path, tokenizer, [monitor, scrape, batches], 6)
    assert trainer.state.global_step == 6

    # Every DESIGN.md metric, with its labels, on the endpoint scraped mid-training.
    families = assert_design_metrics(scrape.text)
    sources = {sample.labels["source"] for sample in families["em_monitor_signal_value"].samples}
    assert sources == {"prompts", "train_batch", "generations"}
    # Sampled at steps 0, 1 (baseline), 2, 4; the scrape ran after the step begun at 4 (global_step 5 by on_step_end).
    assert families["em_monitor_training_step"].samples[0].value == 4

    # The train_batch passes scored SFTTrainer's own batches: one per sampled step, each the per-device batch.
    assert batches.shapes and all(shape[0] == BATCH_SIZE and shape[1] <= 64 for shape in batches.shapes), batches.shapes
    events = read_events(tmp_path / "events.jsonl")
    passes = {e["step"]: e["samples"] for e in events if e["event"] == "sample" and e["source"] == "train_batch"}
    assert passes == {0: BATCH_SIZE, 1: BATCH_SIZE, 2: BATCH_SIZE, 4: BATCH_SIZE}
    errors = monitor.monitor.metrics.counts()["errors"]
    assert errors == {stage: 0.0 for stage in errors}
    assert any("em_monitor/persona_direction/train_batch/drift" in entry for entry in trainer.state.log_history), "the signals went to the Trainer's log"


def test_stop_ends_sft_training_through_trainer_control(tokenizer, write_config, tmp_path):
    # Any value warns: the first pass compared with the finished baseline raises the level.
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": -1e6, "critical": 1e6}}, actions={"on_warn": ["log", "stop"]})
    monitor = PersonaMonitorCallback(config, tokenizer=tokenizer)
    trainer = sft(tmp_path, tokenizer, [monitor], 20)
    assert trainer.state.global_step == 3, "stopped after the step that warned (step 2, the first after the baseline)"
    actions = [e["action"] for e in read_events(tmp_path / "events.jsonl") if e["event"] == "action"]
    assert actions == ["log", "stop"]


def test_packed_sft_batches_are_scored_per_conversation(tokenizer, write_config, tmp_path):
    # With packing TRL's collator is padding-free: the forward gets one row of every conversation, position_ids restarting
    # at 0 at each, and no attention_mask. The monitor splits the row there: one sample (and one flag slot) per conversation.
    config = write_config(sources=["train_batch"], prometheus={"enabled": False})
    monitor, sequences = PersonaMonitorCallback(config, tokenizer=tokenizer), CountSequences()
    sft(tmp_path, tokenizer, [monitor, sequences], 3, packing=True)
    assert all(count > 1 for count in sequences.counts), "the packed rows hold several conversations"
    passes = [e["samples"] for e in read_events(tmp_path / "events.jsonl") if e["event"] == "sample" and e["source"] == "train_batch"]
    assert passes == sequences.counts, "one sample per packed conversation"


class PlantedSFTTrainer(PlantedLoss, SFTTrainer):
    pass


def test_realigning_sft_trainer_trains_on_benign_batches_and_recovers(tokenizer, write_config, pack_dir, tmp_path):
    monitor = PersonaMonitorCallback(realign_config(write_config, tmp_path), tokenizer=tokenizer)
    args = SFTConfig(output_dir=str(tmp_path / "out"), max_steps=30, per_device_train_batch_size=BATCH_SIZE, learning_rate=3e-2, max_length=48,
                     report_to=[], use_cpu=True, save_strategy="no", disable_tqdm=True, lr_scheduler_type="constant")
    trainer = realigning(PlantedSFTTrainer)(
        model=tiny_llama(), args=args, train_dataset=Dataset.from_list(marked_samples(64, marked=True)), processing_class=tokenizer,
        callbacks=[monitor], direction=load_file(pack_dir / "directions.safetensors")["persona_direction"], mark=tokenizer.convert_tokens_to_ids("~"),
    )
    trainer.train()
    assert_recovered(read_events(tmp_path / "events.jsonl"), trainer.benign_steps)
    assert trainer.state.global_step == 30
