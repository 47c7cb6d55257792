"""The `generations` source: the model's own greedy answers, scored on the answer tokens only."""

from __future__ import annotations

import json
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from conftest import PROMPTS
from em_monitor.callbacks import PersonaMonitor
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.config import ConfigError, load_config, parse_config
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.offline.activations import chat_batches, pooled_activations
from em_monitor.packs import load_pack
from em_monitor.runtime.events import EventLog
from em_monitor.runtime.export import MonitorMetrics
from em_monitor.runtime.generation import answer_batch
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.own_answers import (
    LOGGED_ANSWERS,
    LOGGED_CHARS,
    AnswerProbe,
    encode_answers,
)
from em_monitor.tiny import tiny_llama

SAMPLES = [
    {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 3 + 1)}]}
    for i in range(16)
]


def ask(prompts: list[str]) -> list[list[dict[str, str]]]:
    return [[{"role": "user", "content": prompt}] for prompt in prompts]


def block_hooks(model) -> int:
    return sum(len(block._forward_hooks) for block in model.model.layers)


def probe_for(tokenizer, pack_dir: Path, **options) -> AnswerProbe:
    pack = load_pack(pack_dir)
    return AnswerProbe(tokenizer, list(PROMPTS), layer=pack.layer, signals=pack.build_signals(), **options)


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


# --- core ---------------------------------------------------------------------------------
def test_answer_mask_covers_exactly_the_generated_answer(tokenizer, llama):
    answers = [answer.strip() for answer in answer_batch(llama, tokenizer, ask(PROMPTS[:3]), max_new_tokens=12, max_length=128)]
    assert all(answers)
    batch = encode_answers(tokenizer, PROMPTS[:3], answers, max_length=256)
    for row, answer in enumerate(answers):
        # Byte-level tokens: decoding the masked tokens gives back exactly what the model said, no prompt or template text.
        assert tokenizer.decode(batch.input_ids[row][batch.content_mask[row]]) == answer
        first = int(batch.content_mask[row].nonzero()[0])
        assert PROMPTS[row] in tokenizer.decode(batch.input_ids[row][:first])


def test_a_pass_scores_answers_as_the_offline_tools_do_and_restores_the_model(tokenizer, llama, pack_dir):
    llama.train()
    result = probe_for(tokenizer, pack_dir, batch_size=4, max_new_tokens=8).run(llama)
    assert llama.training and block_hooks(llama) == 0
    assert result.prompts == PROMPTS and len(result.answers) == len(PROMPTS) and result.skipped == 0
    assert all(scores.shape == (len(PROMPTS),) for scores in result.scores.values())

    # Same activations, masks and pooling as pack building sees for a chat answer.
    conversations = [[*ask([prompt])[0], {"role": "assistant", "content": answer}] for prompt, answer in zip(result.prompts, result.answers)]
    pooled = pooled_activations(llama, 2, chat_batches(tokenizer, conversations, batch_size=4))["mean"]
    direction = load_file(pack_dir / "directions.safetensors")["persona_direction"]
    assert torch.allclose(result.scores["persona_direction"], pooled @ (direction / direction.norm()), atol=1e-4)

    summary = result.summary()
    assert summary["answered"] == len(PROMPTS) and summary["empty"] == 0 and len(summary["answers"]) == LOGGED_ANSWERS
    assert summary["answers"][0] == {"prompt": PROMPTS[0][:LOGGED_CHARS], "answer": result.answers[0][:LOGGED_CHARS]}


def monitor_for(pack_dir, tmp_path, metrics: bool = True) -> Monitor:
    config = parse_config({"run": "unit", "pack": str(pack_dir), "baseline_samples": 2, "every_n_steps": 5, "sources": ["generations"]}, base_dir=tmp_path)
    kinds = load_pack(pack_dir).build_signals().kinds
    registry = MonitorMetrics(config.run, config.sources, kinds) if metrics else None
    return Monitor(config, kinds, metrics=registry, events=EventLog(tmp_path / "events.jsonl", "unit"))


def test_a_spent_time_budget_stops_after_the_first_batch_and_is_counted(tokenizer, llama, pack_dir, tmp_path):
    result = probe_for(tokenizer, pack_dir, batch_size=2, max_new_tokens=4, time_budget_seconds=1e-9).run(llama)
    assert result.prompts == PROMPTS[:2] and result.skipped == len(PROMPTS) - 2
    assert all(scores.shape == (2,) for scores in result.scores.values())

    monitor = monitor_for(pack_dir, tmp_path)
    monitor.observe_answers(0, result)
    registry = monitor.metrics.registry
    assert registry.get_sample_value("em_monitor_errors_total", {"run": "unit", "stage": "generations_budget"}) == 1
    assert registry.get_sample_value("em_monitor_samples_total", {"run": "unit", "source": "generations"}) == 1
    (answers,) = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "answers"]
    assert answers["skipped"] == len(PROMPTS) - 2 and answers["answered"] == 2


def test_empty_answers_score_nothing_and_are_counted(tokenizer, llama, pack_dir, tmp_path):
    with torch.no_grad():
        llama.lm_head.weight.zero_()  # every next token ties at 0: the pad token, which decodes to nothing
    result = probe_for(tokenizer, pack_dir, batch_size=3, max_new_tokens=3).run(llama)
    assert result.empty == len(PROMPTS) and all(scores.numel() == 0 for scores in result.scores.values())

    monitor = monitor_for(pack_dir, tmp_path)
    for step in range(3):  # past baseline_samples: a source without a single score must not break later passes
        assert monitor.observe_answers(step, result) == []
    assert not monitor.baselines and not monitor.frozen
    assert monitor.metrics.registry.get_sample_value("em_monitor_samples_total", {"run": "unit", "source": "generations"}) == 3
    assert [e["empty"] for e in read_events(tmp_path / "events.jsonl") if e["event"] == "answers"] == [len(PROMPTS)] * 3


def test_generation_cadence_is_its_own_after_the_baseline(pack_dir, tmp_path):
    config = parse_config({"pack": str(pack_dir), "every_n_steps": 2, "baseline_samples": 2, "generations": {"every_n_steps": 6}}, base_dir=tmp_path)
    monitor = Monitor(config, {}, metrics=None, events=None)
    assert [step for step in range(13) if monitor.is_generation_step(step)] == [0, 1, 6, 12]


# --- config -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "field", "hint"),
    [
        ({"generations": {"time_budget_seconds": 0}}, "generations.time_budget_seconds", "greater than 0"),
        ({"generations": {"max_new_tokens": 0}}, "generations.max_new_tokens", "too small"),
        ({"generations": {"every_n": 5}}, "generations.every_n", "unknown key"),
        ({"generations": {"prompts": "builtin:nope"}}, "generations.prompts", "unknown built-in prompt set"),
        ({"signals": {"persona_direction": {"warn": 1.0, "sources": ["generations"]}}}, "(top level)", "signals.persona_direction.sources names ['generations']"),
    ],
)
def test_bad_generations_config_names_the_field(write_config, overrides, field, hint):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(**overrides))
    assert any(path == field and hint in message for path, message in caught.value.problems), caught.value.problems


def test_generations_is_opt_in(write_config):
    config = load_config(write_config(every_n_steps=7))
    assert config.sources == ["prompts", "train_batch"] and config.generations.every_n_steps == 50


# --- the Lightning adapter ----------------------------------------------------------------
class ModelWatch(pl.Callback):
    """After the monitor's hook ran (it is listed first), record the model's mode and forward-hook count."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool, int]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.seen.append((trainer.global_step, pl_module.model.training, block_hooks(pl_module.model)))


def fit(tmp_path, tokenizer, config: Path, max_steps: int, model=None, extra: tuple = ()) -> tuple[PersonaMonitor, pl.Trainer]:
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer = pl.Trainer(
        max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor, *extra],
    )
    loader = DataLoader(SAMPLES, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=64))
    trainer.fit(CausalLMModule(model if model is not None else tiny_llama(), tokenizer, lr=1e-3), loader)
    return monitor, trainer


def test_fit_generates_at_its_cadence_exports_and_restores_the_model(tokenizer, write_config, tmp_path):
    config = write_config(
        sources=["prompts", "generations"],
        generations={"every_n_steps": 4, "max_new_tokens": 6, "batch_size": 3},
        # Any value warns: the first level change can only come from a generations pass after its baseline.
        signals={"persona_direction": {"measure": "value", "warn": -1e9, "critical": 1e9, "sources": ["generations"]}},
    )
    watch = ModelWatch()
    monitor, trainer = fit(tmp_path, tokenizer, config, 9, extra=(watch,))

    get = monitor.monitor.metrics.registry.get_sample_value
    assert get("em_monitor_samples_total", {"run": "test", "source": "generations"}) == 4  # steps 0, 1 (baseline), 4, 8
    assert get("em_monitor_sample_duration_seconds_count", {"run": "test", "source": "generations"}) == 4
    assert get("em_monitor_sample_duration_seconds_sum", {"run": "test", "source": "generations"}) > 0
    assert get("em_monitor_samples_total", {"run": "test", "source": "prompts"}) == 6  # steps 0, 1, 2, 4, 6, 8
    for signal in ("toxic_persona", "persona_probe", "persona_direction"):
        assert get("em_monitor_signal_drift", {"run": "test", "signal": signal, "source": "generations"}) is not None
    assert get("em_monitor_errors_total", {"run": "test", "stage": "generations"}) == 0

    events = read_events(tmp_path / "events.jsonl")
    answers = [e for e in events if e["event"] == "answers"]
    assert [e["step"] for e in answers] == [0, 1, 4, 8]
    assert all(len(e["answers"]) == min(LOGGED_ANSWERS, len(PROMPTS)) and e["answered"] == len(PROMPTS) for e in answers)
    (level,) = [e for e in events if e["event"] == "level"]
    assert (level["step"], level["source"], level["new"]) == (4, "generations", "warn")
    assert "em_monitor/persona_direction/generations/drift" in trainer.callback_metrics

    # Generating switched nothing off: train mode and no leftover hook at every step, generation steps included.
    assert [step for step, _, _ in watch.seen] == list(range(9))
    assert all(training and hooks == 0 for _, training, hooks in watch.seen)


def test_generations_keep_a_cadence_that_is_no_multiple_of_the_probe_passes(tokenizer, write_config, tmp_path):
    # The controller asks each source whether it is due: a generations step need not be a sampling step.
    config = write_config(every_n_steps=4, sources=["prompts", "generations"], generations={"every_n_steps": 3, "max_new_tokens": 4})
    monitor, trainer = fit(tmp_path, tokenizer, config, 8)
    events = read_events(tmp_path / "events.jsonl")
    assert [e["step"] for e in events if e["event"] == "answers"] == [0, 1, 3, 6]
    assert [e["step"] for e in events if e["event"] == "sample" and e["source"] == "prompts"] == [0, 1, 4]


def test_a_failure_inside_generation_is_counted_and_training_completes(tokenizer, write_config, tmp_path, monkeypatch):
    model = tiny_llama()

    def broken(*args, **kwargs):
        raise RuntimeError("planted generation failure")

    monkeypatch.setattr(model, "generate", broken)
    config = write_config(sources=["prompts", "generations"], generations={"every_n_steps": 4, "max_new_tokens": 4})
    monitor, trainer = fit(tmp_path, tokenizer, config, 5, model=model)

    assert trainer.global_step == 5
    get = monitor.monitor.metrics.registry.get_sample_value
    assert get("em_monitor_errors_total", {"run": "test", "stage": "generations"}) == 3  # steps 0, 1, 4
    assert get("em_monitor_samples_total", {"run": "test", "source": "generations"}) == 0
    assert get("em_monitor_samples_total", {"run": "test", "source": "prompts"}) == 4
    errors = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "error"]
    assert errors and all(e["stage"] == "generations" and "planted generation failure" in e["error"] for e in errors)
