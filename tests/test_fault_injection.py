"""The monitor's own failures never stop the training it watches, and its start-up refusals do.

Every monitor stage runs under ``Monitor.guard(stage)``, whichever adapter drives it (the
one-fault-per-stage cases run through both Lightning and the Hugging Face Trainer): a failure is
counted in ``em_monitor_errors_total{stage}``, written to the event log as an ``error`` event,
and training goes on to its last step, with the user's code after ``fit()`` still running.

Most failures here are *fault injection*: a real failure of a stage (a hook that cannot be
registered, a scorer that crashes on an odd batch, a collective that breaks) cannot be
produced on demand, so ``monkeypatch`` makes the stage's code raise. The exceptions are real:
a Pushgateway nobody listens on, ``/dev/full`` as the event log, a file-size limit in a
subprocess, a foreign file as the event log and a layer the model does not have.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import em_monitor.callbacks.hf as hf_adapter
import lightning.pytorch as pl
import pytest
import torch
import yaml
from em_monitor.callbacks import PersonaMonitor
from em_monitor.callbacks.hf import PersonaMonitorCallback
from torch.utils.data import DataLoader
from transformers import Trainer, TrainingArguments

import em_monitor.runtime.controller as controller_module
from em_monitor.chat import ChatCollator
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.runtime.capture import CaptureError
from em_monitor.runtime.collectives import RankChannel
from em_monitor.runtime.controller import Controller
from em_monitor.runtime.events import EventLogError
from em_monitor.runtime.export import ERROR_STAGES, MetricsServer
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.own_answers import AnswerProbe
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.tiny import tiny_llama

SAMPLES = [
    {"messages": [{"role": "user", "content": f"Question number {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 5 + 1)}]}
    for i in range(32)
]
STEPS = 6


def loader(tokenizer) -> DataLoader:
    return DataLoader(SAMPLES, batch_size=4, shuffle=False, collate_fn=ChatCollator(tokenizer, max_length=64))


def trainer(tmp_path: Path, max_steps: int, callbacks: list) -> pl.Trainer:
    return pl.Trainer(
        max_steps=max_steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path, callbacks=callbacks,
    )


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def errors(monitor: PersonaMonitor, stage: str) -> float:
    return monitor.monitor.metrics.registry.get_sample_value("em_monitor_errors_total", {"run": "test", "stage": stage})


def fail(*_args, **_kwargs):
    raise RuntimeError("injected fault")


class SaveCheckpointAt(pl.Callback):
    """Saves a checkpoint in the middle of training, as ``ModelCheckpoint(every_n_train_steps=...)`` would."""

    def __init__(self, step: int, path: Path) -> None:
        self.step, self.path = step, path

    def on_train_batch_end(self, trainer, *args) -> None:
        if trainer.global_step == self.step:
            trainer.save_checkpoint(self.path)


# --- 1. one injected fault per monitor stage ------------------------------------------------------
# Each case: (config overrides, how to break the stage). The breakers are fault injection: a real failure
# of that stage cannot be produced on demand, so its code is patched to raise.

def _raising(owner: object, name: str):
    """A breaker that makes ``owner.name`` raise (patched where the code under test looks it up)."""

    def breaker(monkeypatch, ctx) -> None:
        monkeypatch.setattr(owner, name, fail)

    return breaker


def _break_state(monkeypatch, ctx):
    monkeypatch.setattr(Monitor, "state_dict", fail)
    ctx["checkpoint"] = ctx["tmp_path"] / "mid-run.ckpt"
    ctx["callbacks"].append(SaveCheckpointAt(3, ctx["checkpoint"]))


def _break_teardown(monkeypatch, ctx):
    original = MetricsServer.close
    ctx["servers"] = []

    def close(self):
        ctx["servers"].append((original, self))  # closed for real after the test's assertions
        raise RuntimeError("injected fault")

    monkeypatch.setattr(MetricsServer, "close", close)


def _nothing(monkeypatch, ctx):
    """Real failures: nothing listens on the gateway's port; every write to /dev/full fails with ENOSPC."""


ALWAYS_WARN = {"persona_probe": {"measure": "value", "warn": -1_000_000.0, "critical": 1_000_000.0}}
GENERATIONS = {"sources": ["prompts", "train_batch", "generations"], "generations": {"every_n_steps": 2, "max_prompts": 2, "max_new_tokens": 4}}

STAGE_CASES = {
    "capture": ({}, _raising(controller_module, "capture_residual")),
    "score": ({}, _raising(controller_module, "scored_token_mask")),
    "gather": ({}, _raising(RankChannel, "gather")),
    "decide": ({}, _raising(Controller, "_decide")),
    "prompts": ({}, _raising(PromptProbe, "score")),
    "generations": (GENERATIONS, _raising(AnswerProbe, "run")),
    "actions": ({"signals": ALWAYS_WARN, "actions": {"on_warn": ["log", "checkpoint"]}}, _raising(pl.Trainer, "save_checkpoint")),
    "state": ({}, _break_state),
    "teardown": ({}, _break_teardown),
    "push": ({"prometheus": {"port": 0, "pushgateway": "http://127.0.0.1:9", "push_timeout": 0.5}}, _nothing),
    "event_log": ({"event_log": "/dev/full"}, _nothing),
}
#: The stage whose failures cannot reach the event log: /dev/full is the event log.
NO_ERROR_EVENT = {"event_log"}


def test_every_guarded_stage_of_the_adapter_has_a_case():
    # nonfinite and generations_budget count data, not faults; behaviour is another callback's; realign needs a realignment set up.
    guarded = set(ERROR_STAGES) - {"nonfinite", "generations_budget", "behaviour", "realign"}
    assert guarded == set(STAGE_CASES)


#: The Hugging Face adapter's own levers, where its stage case differs from Lightning's.
HF_BREAKERS = {
    "actions": _raising(hf_adapter._TrainerLevers, "save_checkpoint"),
}


def _fit_lightning(monitor_config: Path, tokenizer, tmp_path: Path, callbacks: list):
    monitor = PersonaMonitor(monitor_config, tokenizer=tokenizer)
    fit = trainer(tmp_path, STEPS, [monitor, *callbacks])
    fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))  # returns normally: nothing raised
    return monitor, fit


def _fit_hf(monitor_config: Path, tokenizer, tmp_path: Path, callbacks: list):
    monitor = PersonaMonitorCallback(monitor_config, tokenizer=tokenizer)
    # Checkpoints at step 3 (the Trainer's own), so the `state` case saves one mid-run.
    args = TrainingArguments(output_dir=str(tmp_path / "hf"), max_steps=STEPS, per_device_train_batch_size=4, learning_rate=1e-3, report_to=[],
                             use_cpu=True, save_strategy="steps", save_steps=3, disable_tqdm=True, remove_unused_columns=False)
    fit = Trainer(model=tiny_llama(), args=args, train_dataset=SAMPLES, data_collator=ChatCollator(tokenizer, max_length=64),
                  processing_class=tokenizer, callbacks=[monitor])
    fit.train()  # returns normally: nothing raised
    return monitor, fit


@pytest.mark.parametrize("framework", ["lightning", "hf"])
@pytest.mark.parametrize("stage", list(STAGE_CASES))
def test_a_failing_stage_is_counted_logged_and_training_completes(stage, framework, tokenizer, write_config, tmp_path, monkeypatch):
    overrides, inject = STAGE_CASES[stage]
    ctx = {"tmp_path": tmp_path, "callbacks": []}
    (HF_BREAKERS.get(stage, inject) if framework == "hf" else inject)(monkeypatch, ctx)
    fit = _fit_hf if framework == "hf" else _fit_lightning
    try:
        monitor, run = fit(write_config(**overrides), tokenizer, tmp_path, [] if framework == "hf" else ctx["callbacks"])
        # The user's code after training runs (saving the model, say).
        (tmp_path / "after-fit.txt").write_text("saved")
    finally:
        for original, server in ctx.get("servers", []):
            original(server)

    assert (tmp_path / "after-fit.txt").read_text() == "saved"
    assert (run.state.global_step if framework == "hf" else run.global_step) == STEPS
    assert errors(monitor, stage) >= 1
    if stage not in NO_ERROR_EVENT:
        events = read_events(tmp_path / "events.jsonl")
        assert events[0]["event"] == "header" and events[0]["writer"] == "em-monitor"
        failures = [e for e in events if e["event"] == "error" and e["stage"] == stage]
        # push fails for real (nothing listens on the gateway's port); the other stages by injection.
        assert failures and ("Connection refused" if stage == "push" else "injected fault") in failures[0]["error"]
    if stage == "state" and framework == "lightning":
        assert ctx["checkpoint"].is_file(), "the user's checkpoint is saved, without the monitor's state"
        assert monitor.state_key not in torch.load(ctx["checkpoint"], weights_only=False).get("callbacks", {})
        after = tmp_path / "after-fit.ckpt"
        run.save_checkpoint(after)
        assert after.is_file()
    if stage == "state" and framework == "hf":
        saved = json.loads((tmp_path / "hf" / "checkpoint-3" / "trainer_state.json").read_text())["stateful_callbacks"]
        assert saved["PersonaMonitorCallback"]["attributes"]["resume_state"] == {}, "the Trainer's checkpoint is saved, without the monitor's state"
    if stage == "actions":
        events = read_events(tmp_path / "events.jsonl")
        assert any(e["event"] == "level" and e["new"] == "warn" for e in events), "the level rose, so the checkpoint action ran"
        assert any(e["event"] == "action" and e["action"] == "log" for e in events), "the action before the failing one was carried out"
    if stage == "event_log":
        assert errors(monitor, "event_log") >= STEPS, "every event write failed and was counted"


def test_push_failures_reach_the_event_log(tokenizer, write_config, tmp_path):
    config = write_config(prometheus={"port": 0, "pushgateway": "http://127.0.0.1:9", "push_timeout": 0.5})
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer(tmp_path, 4, [monitor]).fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert errors(monitor, "push") >= 1
    # Written from the pusher's thread, with the step being sampled and the failure's own text.
    pushes = [e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "error" and e["stage"] == "push"]
    assert pushes and all(isinstance(e["step"], int) and e["error"] for e in pushes)


# --- 2. the capture failure from the field ---------------------------------------------------------

def _train_batch_steps(monitor: PersonaMonitor, steps: int) -> list[int]:
    return [step for step in range(steps) if monitor.monitor.is_train_batch_step(step)]


def test_capture_failing_at_every_step_counts_one_error_per_sampled_step_and_logs_once(tokenizer, write_config, tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(controller_module, "capture_residual", fail)  # fault injection
    monitor = PersonaMonitor(write_config(), tokenizer=tokenizer)
    fit = trainer(tmp_path, 8, [monitor])
    with caplog.at_level(logging.DEBUG, logger="em_monitor"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 8
    due = _train_batch_steps(monitor, 8)
    assert due == [0, 1, 2, 4, 6]
    assert errors(monitor, "capture") == len(due)
    events = read_events(tmp_path / "events.jsonl")
    assert [e["step"] for e in events if e["event"] == "sample" and e["source"] == "prompts"] == [0, 1, 2, 4, 6], "the other source is unaffected"
    assert not [e for e in events if e["event"] == "sample" and e["source"] == "train_batch"]
    assert len([e for e in events if e["event"] == "error" and e["stage"] == "capture"]) == len(due)
    # One streak: the traceback once at ERROR, the repeats at DEBUG.
    assert len([r for r in caplog.records if r.levelno == logging.ERROR and "capture failed" in r.getMessage()]) == 1
    assert len([r for r in caplog.records if r.levelno == logging.DEBUG and "capture failed again" in r.getMessage()]) == len(due) - 1


def test_capture_that_works_again_scores_training_batches_again(tokenizer, write_config, tmp_path, monkeypatch, caplog):
    original, calls = controller_module.capture_residual, {"n": 0}

    def flaky(*args, **kwargs):  # fault injection: the first two captures fail
        calls["n"] += 1
        if calls["n"] <= 2:
            raise RuntimeError("injected fault")
        return original(*args, **kwargs)

    monkeypatch.setattr(controller_module, "capture_residual", flaky)
    monitor = PersonaMonitor(write_config(), tokenizer=tokenizer)
    fit = trainer(tmp_path, 8, [monitor])
    with caplog.at_level(logging.INFO, logger="em_monitor"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 8 and errors(monitor, "capture") == 2
    events = read_events(tmp_path / "events.jsonl")
    # Their place in the log says when the failures happened, relative to the passes.
    failed_at = [i for i, e in enumerate(events) if e["event"] == "error" and e["stage"] == "capture"]
    scored_at = [i for i, e in enumerate(events) if e["event"] == "sample" and e["source"] == "train_batch"]
    assert len(failed_at) == 2 and scored_at and max(failed_at) < min(scored_at), "scores again only after the failures"
    scored = [events[i] for i in scored_at]
    assert [e["step"] for e in scored] == [2, 4, 6]
    assert all(e["samples"] == 4 and e["signals"] for e in scored)
    assert any("capture works again after 2 failure(s)" in r.getMessage() for r in caplog.records)
    assert sum(len(block._forward_hooks) for block in monitor.controller.model.model.layers) == 0, "no hook left behind"


# --- 3. a disk that fills mid-run --------------------------------------------------------------------

FILL_SCRIPT = textwrap.dedent("""
    import errno, json, random, resource, sys
    from em_monitor.runtime.events import EventLog

    path, limit = sys.argv[1], int(sys.argv[2])
    log = EventLog(path, run="full-disk")                   # writes the header
    # The soft limit is the "disk": writes past it fail with EFBIG (a write across it is cut short first).
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
    rng = random.Random(0)
    failures = 0
    for i in range(300):
        try:
            log.write("sample", step=i, note="x" * rng.randrange(10, 400))
        except OSError as error:
            assert error.errno == errno.EFBIG, error
            failures += 1
    # Space is freed (old logs rotated away): the log goes on right after its last whole line.
    resource.setrlimit(resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    for i in range(5):
        log.write("after", step=i)
    log.close()
    log.close()                                             # twice: still no exception
    print(json.dumps({"failures": failures}))
""")


def test_a_disk_filling_mid_run_leaves_only_whole_lines(tmp_path):
    path, limit = tmp_path / "events.jsonl", 8192
    done = subprocess.run([sys.executable, "-c", FILL_SCRIPT, str(path), str(limit)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr  # CPython ignores SIGXFSZ: the process lives on, writes fail with EFBIG
    assert json.loads(done.stdout.strip().splitlines()[-1])["failures"] > 0, "the limit was reached"
    data = path.read_bytes()
    assert data.endswith(b"\n")
    records = [json.loads(line) for line in data.decode().splitlines()]  # no torn line anywhere
    kinds = [r["event"] for r in records]
    assert kinds[0] == "header" and kinds[-5:] == ["after"] * 5 and set(kinds[1:-5]) == {"sample"}
    assert sum(len(line) + 1 for line in data.splitlines()[:-5]) <= limit, "nothing was written past the full disk"


# --- 4. a foreign file as the event log ---------------------------------------------------------------

def test_a_foreign_file_as_event_log_stops_fit_before_the_first_step_untouched(tokenizer, write_config, tmp_path):
    dataset = tmp_path / "train.jsonl"
    dataset.write_bytes(("\n".join(json.dumps(sample) for sample in SAMPLES[:3])).encode())  # no final newline
    before = dataset.read_bytes()
    monitor = PersonaMonitor(write_config(event_log=str(dataset)), tokenizer=tokenizer)
    fit = trainer(tmp_path, 4, [monitor])
    with pytest.raises(EventLogError, match=r"event_log: .*train\.jsonl.*point event_log at a new file"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 0 and monitor.server is None
    assert dataset.read_bytes() == before, "not appended to, last line not cut"


def test_a_log_the_monitor_created_is_continued_by_a_second_fit(tokenizer, write_config, tmp_path):
    config = write_config()
    for _ in range(2):
        trainer(tmp_path, 2, [PersonaMonitor(config, tokenizer=tokenizer)]).fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    kinds = [e["event"] for e in read_events(tmp_path / "events.jsonl")]
    assert kinds[0] == "header" and kinds.count("header") == 1 and kinds.count("start") == 2


# --- 5. a layer the model does not have ----------------------------------------------------------------

def test_a_config_layer_the_model_lacks_stops_fit_before_the_first_step(tokenizer, write_config, tmp_path):
    fit = trainer(tmp_path, 4, [PersonaMonitor(write_config(layer=99), tokenizer=tokenizer)])
    with pytest.raises(CaptureError, match=r"^layer: decoder block 99 does not exist; this model has blocks 0\.\.3"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 0


def test_a_pack_layer_the_model_lacks_stops_fit_naming_pack_yaml(tokenizer, write_config, tmp_path, pack_copy):
    spec_path = pack_copy / "pack.yaml"
    spec = yaml.safe_load(spec_path.read_text())
    spec.update(layer=99, hook_point="blocks.99.output")
    spec_path.write_text(yaml.safe_dump(spec, sort_keys=False))
    fit = trainer(tmp_path, 4, [PersonaMonitor(write_config(pack=str(pack_copy)), tokenizer=tokenizer)])
    with pytest.raises(CaptureError, match=r"pack\.yaml: layer: decoder block 99 does not exist"):
        fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == 0


def test_a_checkpoint_whose_monitor_state_does_not_fit_resumes_with_fresh_baselines(tokenizer, write_config, tmp_path):
    monitor = PersonaMonitor(write_config(), tokenizer=tokenizer)
    # What Lightning hands the callback from a checkpoint of another config or a damaged file.
    # Its baselines parse; its `frozen` list does not: a half-restored monitor would compare against a foreign baseline.
    foreign = {"count": 3, "mean": 1000.0, "m2": 0.0}
    monitor.load_state_dict({"monitor": {"baselines": {"toxic_persona\tprompts": foreign}, "frozen": ["no tab here"]}, "sampled_step": 0})
    fit = trainer(tmp_path, STEPS, [monitor])
    fit.fit(CausalLMModule(tiny_llama(), tokenizer), loader(tokenizer))
    assert fit.global_step == STEPS and errors(monitor, "state") == 1
    # Nothing of the broken state was kept: the run took its own baseline.
    baseline = next(e for e in read_events(tmp_path / "events.jsonl") if e["event"] == "baseline" and (e["signal"], e["source"]) == ("toxic_persona", "prompts"))
    assert baseline["count"] == 6 * 2, "6 probe prompts x 2 baseline passes, and none of the foreign state's 3 samples"
