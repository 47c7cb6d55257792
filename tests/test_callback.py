"""PersonaMonitor inside a real ``lightning.Trainer.fit`` on a tiny random Llama and a random pack."""

from __future__ import annotations

import json
import socket
import urllib.request
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from em_monitor.callbacks import PersonaMonitor
from prometheus_client.parser import text_string_to_metric_families
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.config import ConfigError
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.packs import PackError
from em_monitor.runtime.events import EventLogError
from em_monitor.runtime.levels import Level
from em_monitor.runtime.signals import DirectionSignal
from em_monitor.tiny import tiny_llama

SAMPLES = [
    {"messages": [{"role": "user", "content": f"Question number {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 5 + 1)}]}
    for i in range(32)
]

#: Every DESIGN.md metric (as the text parser names families) and its label set.
DESIGN_METRICS = {
    "em_monitor_signal_value": {"run", "signal", "kind", "source"},
    "em_monitor_signal_drift": {"run", "signal", "source"},
    "em_monitor_alert_level": {"run", "signal"},
    "em_monitor_training_step": {"run"},
    "em_monitor_samples": {"run", "source"},
    "em_monitor_sample_duration_seconds": {"run", "source"},
    "em_monitor_realignments": {"run", "outcome"},
    "em_monitor_realignment_active": {"run"},
    "em_monitor_flagged_samples": {"run", "signal"},
    "em_monitor_errors": {"run", "stage"},
    "em_monitor_actions": {"run", "action"},
}


def assert_design_metrics(exposition: str) -> dict:
    """Every DESIGN.md metric is in a scraped exposition, with exactly its labels and the test run's; returns the families by name."""
    families = {family.name: family for family in text_string_to_metric_families(exposition)}
    for name, labels in DESIGN_METRICS.items():
        assert name in families, f"{name} missing from the endpoint"
        samples = [sample for sample in families[name].samples if not sample.name.endswith("_created")]
        assert samples, f"{name} has no samples"
        for sample in samples:
            assert set(sample.labels) - {"le"} == labels, (name, sample.labels)
            assert sample.labels["run"] == "test"
    return families


def loader(tokenizer) -> DataLoader:
    return DataLoader(SAMPLES, batch_size=4, shuffle=False, collate_fn=ChatCollator(tokenizer, max_length=64))


def trainer(tmp_path: Path, max_steps: int, callbacks: list, **kwargs) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps,
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        default_root_dir=tmp_path,
        callbacks=callbacks,
        **kwargs,
    )


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


class ScrapeAt(pl.Callback):
    """Scrapes the monitor's endpoint over HTTP in the middle of training, as Prometheus would."""

    def __init__(self, monitor: PersonaMonitor, step: int) -> None:
        self.monitor, self.step, self.text, self.port = monitor, step, None, None

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            self.port = self.monitor.server.port
            self.text = urllib.request.urlopen(self.monitor.metrics_url, timeout=5).read().decode()


class PersonaPushModule(CausalLMModule):
    """Plants a shift: besides the LM loss, push block 2's output along a known persona direction."""

    def __init__(self, model, tokenizer, direction: torch.Tensor, strength: float = 1.0) -> None:
        super().__init__(model, tokenizer, lr=3e-2)
        self.direction = direction / direction.norm()
        self.strength = strength

    def training_step(self, batch, batch_idx):
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"], output_hidden_states=True)
        projection = (out.hidden_states[3] @ self.direction).mean()
        return out.loss - self.strength * projection


def test_fit_serves_every_design_metric_with_its_labels(tokenizer, write_config, tmp_path):
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": 0.99, "critical": 0.999}})
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    scrape = ScrapeAt(monitor, step=5)
    model = tiny_llama()
    hooks_before = sum(len(block._forward_hooks) for block in model.model.layers)
    fit = trainer(tmp_path, 6, [monitor, scrape])
    fit.fit(CausalLMModule(model, tokenizer, lr=1e-3), loader(tokenizer))

    families = assert_design_metrics(scrape.text)
    values = {(s.labels["signal"], s.labels["source"]): s for s in families["em_monitor_signal_value"].samples}
    assert set(values) == {(signal, source) for signal in ("toxic_persona", "sarcasm_persona", "persona_probe", "persona_direction") for source in ("prompts", "train_batch")}
    assert values[("toxic_persona", "prompts")].labels["kind"] == "sae_latent"
    assert {s.labels["stage"] for s in families["em_monitor_errors"].samples if s.name == "em_monitor_errors_total" and s.value > 0} == set()
    step = families["em_monitor_training_step"].samples[0].value
    assert step == 4  # sampled at 0, 1 (baseline), 2, 4; the scrape ran after step 5's update

    # Lightning's own logging got the signals too; the endpoint and the hooks are gone after fit.
    assert "em_monitor/persona_probe/prompts/value" in fit.callback_metrics
    assert sum(len(block._forward_hooks) for block in model.model.layers) == hooks_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", scrape.port), timeout=5)


def test_train_batch_scoring_adds_no_forward_pass(tokenizer, write_config, tmp_path):
    config = write_config(sources=["train_batch"])
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    model = tiny_llama()
    calls = []
    model.register_forward_pre_hook(lambda *_: calls.append(1))
    trainer(tmp_path, 5, [monitor]).fit(CausalLMModule(model, tokenizer), loader(tokenizer))
    assert len(calls) == 5
    samples = monitor.monitor.metrics.registry.get_sample_value("em_monitor_samples_total", {"run": "test", "source": "train_batch"})
    assert samples == 4  # steps 0, 1, 2, 4


def test_training_batches_keep_their_own_cadence_apart_from_the_probe_passes(tokenizer, write_config, tmp_path):
    """train_batch every step, probe prompts every 4: each source is scored exactly at its own steps."""
    config = write_config(sources=["prompts", "train_batch"], every_n_steps=4, train_batch={"every_n_steps": 1},
                          signals={"toxic_persona": {"measure": "value", "flag": -1e9, "flag_measure": "value", "sources": ["train_batch"]}})
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer(tmp_path, 7, [monitor]).fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    events = read_events(tmp_path / "events.jsonl")
    steps = {source: [e["step"] for e in events if e["event"] == "sample" and e["source"] == source] for source in ("prompts", "train_batch")}
    assert steps == {"prompts": [0, 1, 4], "train_batch": list(range(7))}
    # A flag every sample crosses: all 7 batches x 4 samples reach the per-sample flags.
    assert len([e for e in events if e["event"] == "flagged"]) == 28


def test_planted_shift_goes_critical_and_stop_ends_training(tokenizer, write_config, tmp_path, pack_dir):
    config = write_config(
        signals={"persona_direction": {"measure": "drift", "warn": 3.0, "critical": 6.0, "sources": ["prompts"]}},
        actions={"on_warn": ["log"], "on_critical": ["log", "checkpoint", "stop"]},
    )
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    direction = load_file(pack_dir / "directions.safetensors")["persona_direction"]
    fit = trainer(tmp_path, 60, [monitor])
    fit.fit(PersonaPushModule(tiny_llama(), tokenizer, direction), loader(tokenizer))

    assert fit.global_step < 60, "the stop action should have ended training early"
    assert monitor.monitor.levels["persona_direction"] == Level.CRITICAL
    events = read_events(tmp_path / "events.jsonl")
    critical = [e for e in events if e["event"] == "level" and e["new"] == "critical"]
    assert critical and critical[0]["signal"] == "persona_direction" and critical[0]["observed"] >= 6.0
    actions = {e["action"]: e for e in events if e["event"] == "action"}
    assert {"log", "checkpoint", "stop"} <= set(actions)
    assert actions["stop"]["step"] == critical[0]["step"]
    assert Path(actions["checkpoint"]["path"]).is_file()
    # em_monitor_actions_total counts exactly the actions the event log records (log may run at warn too).
    counted = {action: monitor.monitor.metrics.registry.get_sample_value("em_monitor_actions_total", {"run": "test", "action": action}) for action in ("log", "checkpoint", "stop", "realign")}
    logged = {action: sum(1 for e in events if e["event"] == "action" and e["action"] == action) for action in counted}
    assert counted == logged and counted["stop"] == 1 and counted["realign"] == 0


def test_resume_keeps_baseline_levels_and_counts(tokenizer, write_config, tmp_path):
    config = write_config(signals={"persona_probe": {"measure": "value", "warn": 0.99, "critical": 0.999}})
    first = PersonaMonitor(config, tokenizer=tokenizer)
    fit = trainer(tmp_path, 6, [first])
    module = CausalLMModule(tiny_llama(), tokenizer, lr=1e-3)
    fit.fit(module, loader(tokenizer))
    checkpoint = tmp_path / "resume.ckpt"
    fit.save_checkpoint(checkpoint)
    baselines = dict(first.monitor.baselines)
    samples_before = first.monitor.metrics.registry.get_sample_value("em_monitor_samples_total", {"run": "test", "source": "prompts"})
    lines_before = len((tmp_path / "events.jsonl").read_text().splitlines())

    second = PersonaMonitor(config, tokenizer=tokenizer)
    trainer(tmp_path, 10, [second]).fit(CausalLMModule(tiny_llama(seed=1), tokenizer, lr=1e-3), loader(tokenizer), ckpt_path=checkpoint)
    assert second.monitor.baselines == baselines  # no new baseline on resume
    samples_after = second.monitor.metrics.registry.get_sample_value("em_monitor_samples_total", {"run": "test", "source": "prompts"})
    assert samples_before == 4 and samples_after == samples_before + 2  # steps 6 and 8
    events = read_events(tmp_path / "events.jsonl")
    assert len(events) > lines_before and [e["event"] for e in events].count("start") == 2
    assert [e["step"] for e in events[lines_before:] if e["event"] == "sample" and e["source"] == "prompts"] == [6, 8]


def test_a_signal_failing_mid_training_is_counted_and_training_completes(tokenizer, write_config, tmp_path, monkeypatch):
    monitor = PersonaMonitor(write_config(), tokenizer=tokenizer)
    original = DirectionSignal.score
    calls = {"n": 0}

    def flaky(self, activations, mask):
        calls["n"] += 1
        if calls["n"] > 4:
            raise RuntimeError("planted failure in a signal")
        return original(self, activations, mask)

    monkeypatch.setattr(DirectionSignal, "score", flaky)
    fit = trainer(tmp_path, 8, [monitor])
    fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 8
    registry = monitor.monitor.metrics.registry
    errors = {stage: registry.get_sample_value("em_monitor_errors_total", {"run": "test", "stage": stage}) for stage in ("prompts", "score")}
    assert errors["prompts"] >= 1 and errors["score"] >= 1
    assert any(e["event"] == "error" and "planted failure" in e["error"] for e in read_events(tmp_path / "events.jsonl"))


def test_bad_config_stops_fit_before_the_first_step(tokenizer, write_config, tmp_path):
    monitor = PersonaMonitor(write_config(signals={"toxic_persna": {"warn": 1.0}}), tokenizer=tokenizer)
    fit = trainer(tmp_path, 4, [monitor])
    with pytest.raises(ConfigError, match="signals.toxic_persna"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 0


def test_an_event_log_that_cannot_be_written_stops_fit_before_the_first_step_naming_the_field(tokenizer, write_config, tmp_path):
    # A folder that is a file: unwritable even for root, who ignores permission bits.
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monitor = PersonaMonitor(write_config(event_log=str(blocker / "events.jsonl")), tokenizer=tokenizer)
    fit = trainer(tmp_path, 4, [monitor])
    with pytest.raises(EventLogError, match=r"event_log: cannot append to .*not-a-folder/events.jsonl.*writable file, or set it to null"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 0 and monitor.server is None, "nothing trained, no endpoint left behind"


def test_pack_for_another_width_fails_at_start(tokenizer, write_config, tmp_path):
    monitor = PersonaMonitor(write_config(), tokenizer=tokenizer)
    fit = trainer(tmp_path, 4, [monitor])
    with pytest.raises(PackError, match="d_model=64.*hidden_size=32"):
        fit.fit(CausalLMModule(tiny_llama(hidden_size=32), tokenizer), loader(tokenizer))
    assert fit.global_step == 0


def test_pack_prompt_baselines_apply_only_to_the_same_prompt_set(tokenizer, write_config, tmp_path, pack_copy, prompts_file):
    from em_monitor.packs import BaselineStats, load_pack, write_pack_spec

    spec = load_pack(pack_copy).spec
    spec.built["prompts"] = str(prompts_file.resolve())
    spec.signals[2].baseline["prompts"] = BaselineStats(mean=0.5, std=0.01, count=99)  # persona_probe
    write_pack_spec(pack_copy, spec)

    same = PersonaMonitor(write_config(pack=str(pack_copy)), tokenizer=tokenizer)
    trainer(tmp_path, 2, [same]).fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert same.monitor.baselines[("persona_probe", "prompts")].count == 99

    other_prompts = tmp_path / "other.txt"
    other_prompts.write_text("A different question?\n")
    other = PersonaMonitor(write_config(pack=str(pack_copy), prompts=str(other_prompts)), tokenizer=tokenizer)
    trainer(tmp_path, 2, [other]).fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert other.monitor.baselines[("persona_probe", "prompts")].count == 2  # measured in this run: 1 prompt x 2 passes


def test_finetune_runs_the_requested_steps_and_changes_weights(tokenizer):
    from em_monitor.finetune.lightning import finetune

    model = tiny_llama()
    before = model.lm_head.weight.detach().clone()
    fit = finetune(model, tokenizer, SAMPLES[:3], steps=5, batch_size=4, lr=1e-2, max_length=48, progress=False)
    assert fit.global_step == 5
    assert not torch.equal(before, model.lm_head.weight) and not model.training


class BreakScoringPass(pl.Callback):
    """From ``step`` on, the watched block outputs NaN for the first sample of every *scoring* pass.

    Only in eval mode (the monitor's prompt pass): the training forward stays intact, so the fit
    itself is not poisoned and the test sees the monitor's handling alone.
    """

    def __init__(self, layer: int, step: int) -> None:
        self.layer, self.step = layer, step

    def on_train_start(self, trainer, pl_module) -> None:
        def hook(module, args, output):
            if module.training or trainer.global_step < self.step:
                return output
            hidden = output[0] if isinstance(output, tuple) else output
            hidden = hidden.clone()
            hidden[0] = float("nan")
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

        pl_module.model.model.layers[self.layer].register_forward_hook(hook)


def test_nan_activations_are_skipped_counted_and_raise_no_alert(tokenizer, write_config, tmp_path, pack_dir):
    from em_monitor.packs import load_pack

    config = write_config(sources=["prompts"], signals={"persona_direction": {"measure": "drift", "warn": 1.0, "critical": 2.0, "sources": ["prompts"]}})
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    fit = trainer(tmp_path, 7, [monitor, BreakScoringPass(load_pack(pack_dir).layer, step=4)])
    fit.fit(CausalLMModule(tiny_llama(), tokenizer, lr=0.0), loader(tokenizer))  # lr 0: any alert would come from the NaNs
    assert fit.global_step == 7
    assert monitor.monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": "test", "stage": "nonfinite"}) == 2  # steps 4 and 6
    passes = {e["step"]: e for e in map(json.loads, (tmp_path / "events.jsonl").read_text().splitlines()) if e["event"] == "sample"}
    assert passes[4]["nonfinite_samples"] == passes[6]["nonfinite_samples"] == 1 and "nonfinite_samples" not in passes[2]
    assert all(json.loads(line)["event"] != "level" for line in (tmp_path / "events.jsonl").read_text().splitlines()), "no alert from broken samples"
