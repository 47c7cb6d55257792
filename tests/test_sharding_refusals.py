"""Setups that would hang a sharded run are refused at start-up, naming the strategy and the fix (issue 19, item 2).

Under FSDP / FSDP2 / DeepSpeed ZeRO-3 every forward pass is a collective, so a pass on rank 0
alone (probe prompts and generations outside FSDP2, on-policy benign data, the behavioural check)
would wait forever. Under FSDP2 (``ModelParallelStrategy``) the probe passes run on every rank
(``tests/test_fsdp2.py`` fits one); the rest stays refused. Lightning's FSDP1 strategy refuses a
CPU accelerator and DeepSpeed is not installed here, so the Lightning cases hand the adapter's
check real strategy objects without a fit. The Trainer case runs a real ``Trainer.train`` on one CPU
process with ``ACCELERATE_USE_FSDP`` set, as ``accelerate launch`` with an FSDP config sets it
(stand-in: a real FSDP Trainer needs several processes and accelerate's launcher), and the
callback refuses in ``on_train_begin``, before the first step.
"""

from __future__ import annotations

import pytest
from lightning.pytorch.strategies import DDPStrategy, FSDPStrategy, ModelParallelStrategy, SingleDeviceStrategy
from transformers import Trainer, TrainerCallback, TrainingArguments

from em_monitor.callbacks.hf import PersonaMonitorCallback
from em_monitor.callbacks.hf import sharded_by as trainer_sharded_by
from em_monitor.callbacks.lightning import sharded_by
from em_monitor.chat import ChatCollator
from em_monitor.config import load_config
from em_monitor.runtime.sharding import check_sharding, rank_zero_passes
from em_monitor.tiny import tiny_llama

SAMPLES = [{"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": f"A{i}."}]} for i in range(8)]


def test_fsdp1_refuses_probe_passes_naming_the_strategy_and_both_fixes(write_config):
    settings = load_config(write_config(sources=["prompts", "train_batch", "generations"]))
    sharding = sharded_by(FSDPStrategy())
    with pytest.raises(ValueError, match=r"the `prompts` source, the `generations` source .*FSDPStrategy.*sources: \[train_batch\].*ModelParallelStrategy"):
        check_sharding(rank_zero_passes(settings, sharding), sharding, "PersonaMonitor")


def test_fsdp2_runs_probe_passes_on_every_rank_but_refuses_what_runs_on_rank_zero_alone(write_config):
    sharding = sharded_by(ModelParallelStrategy())
    assert sharding.collective_passes
    check_sharding(rank_zero_passes(load_config(write_config(sources=["prompts", "train_batch", "generations"])), sharding), sharding, "PersonaMonitor")
    on_policy = load_config(write_config(sources=["prompts"], actions={"on_critical": ["realign"]}, realign={"dataset": "on_policy"}))
    with pytest.raises(ValueError, match=r"`realign.dataset: on_policy`.*ModelParallelStrategy \(FSDP2\).*instead of on_policy"):
        check_sharding(rank_zero_passes(on_policy, sharding), sharding, "PersonaMonitor")
    with pytest.raises(ValueError, match=r"BehaviourCheck: the behavioural check .*ModelParallelStrategy"):
        check_sharding(["the behavioural check"], sharding, "BehaviourCheck")


@pytest.mark.parametrize("strategy", [DDPStrategy(), SingleDeviceStrategy("cpu")], ids=["ddp", "single"])
def test_unsharded_strategies_and_train_batch_only_configs_pass(strategy, write_config):
    assert sharded_by(strategy) is None
    check_sharding(rank_zero_passes(load_config(write_config(sources=["prompts"])), None), sharded_by(strategy), "PersonaMonitor")
    # train_batch alone is scored on every rank from the training forward: allowed under sharding.
    fsdp1 = sharded_by(FSDPStrategy())
    check_sharding(rank_zero_passes(load_config(write_config(sources=["train_batch"])), fsdp1), fsdp1, "PersonaMonitor")


def test_on_policy_realignment_counts_as_a_rank_zero_pass(write_config):
    settings = load_config(write_config(sources=["train_batch"], actions={"on_critical": ["realign"]}, realign={"dataset": "on_policy"}))
    assert rank_zero_passes(settings, None) == ["`realign.dataset: on_policy` (benign answers generated at start-up)"]


def test_trainer_with_fsdp_refuses_before_the_first_step(tokenizer, write_config, tmp_path, monkeypatch):
    args = TrainingArguments(output_dir=str(tmp_path / "out"), max_steps=3, per_device_train_batch_size=4, report_to=[], use_cpu=True,
                             save_strategy="no", disable_tqdm=True, remove_unused_columns=False)
    assert trainer_sharded_by(args) is None
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # what `accelerate launch` with an FSDP config sets for the Trainer
    assert trainer_sharded_by(args).strategy.startswith("FSDP")
    steps: list[int] = []

    class CountSteps(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            steps.append(state.global_step)

    monitor = PersonaMonitorCallback(write_config(sources=["prompts", "train_batch"]), tokenizer=tokenizer)
    monkeypatch.delenv("ACCELERATE_USE_FSDP")  # the Trainer itself must not try to set up FSDP on this one-process CPU run
    trainer = Trainer(model=tiny_llama(), args=args, train_dataset=SAMPLES, data_collator=ChatCollator(tokenizer, max_length=32),
                      processing_class=tokenizer, callbacks=[monitor, CountSteps()])
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")  # ... but the callback reads it at on_train_begin
    with pytest.raises(ValueError, match=r"the `prompts` source run forward passes on rank 0 alone.*FSDP"):
        trainer.train()
    assert steps == [], "refused before the first step"
