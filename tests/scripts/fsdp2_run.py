"""Lightning fits with PersonaMonitor, sharded by FSDP2 on 2 CPU ranks or on one process (tests/test_fsdp2.py).

Usage: ``fsdp2_run.py OUT NAME:CHECKPOINTING:FAULT=CONFIG ...``: FSDP2 fits, one after the other
in the same two processes (starting them costs more than a tiny fit); each writes
``OUT/NAME/rank<N>.json``. The test runs the single-process fits in its own process, through
:func:`fit`. A fit refused at start-up writes the refusal into its rank files (``refused``).

* ``fsdp2``: ``ModelParallelStrategy`` (data parallel 2, gloo), ``fully_shard`` on every
  decoder block and on the model, 4 samples a rank a step. ``single``: one process, 8 samples
  a step: rank 0's 4 then rank 1's 4, in the order Lightning's distributed sampler deals them
  (:func:`global_order`). Every sample has the same number of answer tokens, so the mean of the
  two ranks' mean losses is the single process's mean loss: both runs train the same model, up
  to float reordering.
* CHECKPOINTING: ``none``, ``reentrant`` or ``non_reentrant`` gradient checkpointing, whose
  recomputed forward must not make the monitor see a batch twice.

* FAULT (empty for none; fault injection: a rank's monitor going wrong cannot be produced on demand): ``skip``,
  rank 1's monitor skips the exchanges of step 2 only, and is out of step afterwards; ``silent``,
  rank 1's monitor does nothing from step 2 on. Neither may leave rank 0 waiting for long.

Each rank writes ``OUT/rank<N>.json``; rank 0 also writes ``OUT/weights.safetensors``, the full
trained weights (gathered from the shards).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightning.pytorch as pl
import torch
from lightning.pytorch.strategies import ModelParallelStrategy
from safetensors.torch import save_file
from torch.distributed.fsdp import fully_shard
from torch.distributed.tensor import DTensor
from torch.utils.data import DataLoader, DistributedSampler

from em_monitor.callbacks import PersonaMonitor
from em_monitor.chat import ChatCollator
from em_monitor.runtime.controller import Controller, Decision
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.tiny import tiny_llama, tiny_tokenizer

STEPS, GLOBAL_BATCH, WORLD_SIZE = 6, 8, 2
#: Two letters each: the byte-level tiny tokenizer gives every sample the same number of tokens.
WORDS = [chr(65 + i % 26) + chr(97 + i // 26) for i in range(STEPS * GLOBAL_BATCH)]
SAMPLES = [{"messages": [{"role": "user", "content": f"Question {word}?"}, {"role": "assistant", "content": f"Answer {word}."}]} for word in WORDS]


def global_order() -> list[int]:
    """Sample indices step by step as the two ranks see them: each step, rank 0's batch then rank 1's.

    Lightning deals training data with a shuffling ``DistributedSampler`` seeded by PL_GLOBAL_SEED
    (0 here: the test drops the variable); the same sampler gives the same order here.
    """
    per_rank = GLOBAL_BATCH // WORLD_SIZE
    ranks = [list(DistributedSampler(range(len(SAMPLES)), num_replicas=WORLD_SIZE, rank=rank, shuffle=True, seed=0)) for rank in range(WORLD_SIZE)]
    return [index for step in range(STEPS) for rank in ranks for index in rank[step * per_rank : (step + 1) * per_rank]]


class ShardedModule(CausalLMModule):
    """The reference LM module; under ModelParallelStrategy its model is sharded block by block (FSDP2)."""

    def configure_model(self) -> None:
        if not isinstance(self.trainer.strategy, ModelParallelStrategy):
            return
        mesh = self.device_mesh["data_parallel"]
        for block in self.model.model.layers:
            fully_shard(block, mesh=mesh)
        fully_shard(self.model, mesh=mesh)


def count_training_calls(module: torch.nn.Module) -> list[int]:
    """A list that grows by one at each training-mode call of ``module.forward``: once a step, twice with checkpointing.

    Inside a block (its MLP): transformers checkpoints a block's ``forward``, so hooks on the block
    itself (the monitor's capture, FSDP2's) stay outside the checkpoint and fire once. The forward
    is wrapped rather than hooked because torch's non-reentrant recompute runs without forward
    hooks. The monitor's own passes run in eval mode and are not counted.
    """
    calls: list[int] = []
    forward = module.forward

    def counted(*args, **kwargs):
        if module.training:
            calls.append(1)
        return forward(*args, **kwargs)

    module.forward = counted
    return calls


FAULTY_RANK, FAULT_STEP = 1, 2


@contextmanager
def injected(fault: str) -> Iterator[None]:
    """Within: rank 1's controller skips the exchanges of step 2 (``skip``) or of every step from 2 on (``silent``)."""
    begin_step, end_step = Controller.begin_step, Controller.end_step

    def faulty(step: int) -> bool:
        return step == FAULT_STEP if fault == "skip" else step >= FAULT_STEP

    def skipping_begin(self: Controller, step: int) -> bool:
        if self.levers.rank == FAULTY_RANK and fault == "silent" and faulty(step):
            return False
        return begin_step(self, step)

    def skipping_end(self: Controller, batch) -> Decision:
        work = self._work
        if self.levers.rank == FAULTY_RANK and work is not None and faulty(work.step):
            self.abort_step()
            return Decision()
        return end_step(self, batch)

    if fault:
        Controller.begin_step, Controller.end_step = skipping_begin, skipping_end
    try:
        yield
    finally:
        Controller.begin_step, Controller.end_step = begin_step, end_step


def full_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The whole parameters on every rank (``full_tensor`` is a collective: every rank calls it)."""
    weights = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.full_tensor() if isinstance(tensor, DTensor) else tensor
        weights[name] = tensor.detach().clone().contiguous()
    return weights


def fit(mode: str, checkpointing: str, config: str, out: str) -> None:
    """One fit (``fsdp2`` or ``single``); each rank writes ``out/rank<N>.json``, rank 0 also the trained weights."""
    tokenizer = tiny_tokenizer()
    model = tiny_llama()
    if checkpointing != "none":
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": checkpointing == "reentrant"})
    sharded = mode == "fsdp2"
    strategy = ModelParallelStrategy(data_parallel_size=WORLD_SIZE, tensor_parallel_size=1) if sharded else "auto"
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer = pl.Trainer(
        max_steps=STEPS, accelerator="cpu", devices=WORLD_SIZE if sharded else 1, strategy=strategy, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, default_root_dir=out, callbacks=[monitor],
    )
    module = ShardedModule(model, tokenizer, lr=1e-3)
    training_calls = count_training_calls(model.model.layers[0].mlp)
    collator = ChatCollator(tokenizer, max_length=64)
    if sharded:  # Lightning puts its distributed sampler in
        loader = DataLoader(SAMPLES, batch_size=GLOBAL_BATCH // WORLD_SIZE, collate_fn=collator)
    else:
        loader = DataLoader(SAMPLES, batch_size=GLOBAL_BATCH, sampler=global_order(), collate_fn=collator)
    trainer.fit(module, loader)
    weights = full_weights(module.model)
    report = {
        "rank": trainer.global_rank,
        "global_step": trainer.global_step,
        "sharded": any(isinstance(parameter, DTensor) for parameter in module.model.parameters()),
        "serving": monitor.monitor.metrics is not None,
        "training_calls": len(training_calls),
        "detached": monitor.controller.detached,
    }
    if monitor.monitor.metrics is not None:
        registry = monitor.monitor.metrics.registry
        report["errors"] = {
            sample.labels["stage"]: sample.value
            for metric in registry.collect() if metric.name == "em_monitor_errors"
            for sample in metric.samples if sample.name.endswith("_total") and sample.value
        }
        report["passes"] = {
            sample.labels["source"]: sample.value
            for metric in registry.collect() if metric.name == "em_monitor_samples"
            for sample in metric.samples if sample.name.endswith("_total")
        }
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))
    if trainer.global_rank == 0:
        save_file(weights, str(Path(out) / "weights.safetensors"))


def main(out: str, *scenarios: str) -> None:
    torch.set_num_threads(1)
    for scenario in scenarios:
        spec, config = scenario.split("=", 1)
        name, checkpointing, fault = spec.split(":")
        try:
            with injected(fault):
                fit("fsdp2", checkpointing, config, str(Path(out) / name))
        except ValueError as refusal:  # a refusal at start-up: recorded for the test, which checks nothing trained
            rank = int(os.environ.get("LOCAL_RANK", 0))
            (Path(out) / name).mkdir(parents=True, exist_ok=True)
            (Path(out) / name / f"refused{rank}.txt").write_text(str(refusal))


if __name__ == "__main__":
    main(*sys.argv[1:])
