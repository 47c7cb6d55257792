"""Run by tests/test_ddp.py: a 2-process CPU DDP fit with a planted persona shift.

Lightning's DDP launcher re-executes this file for rank 1, so it must be a script (not a test
function). Usage: ``ddp_planted_shift.py PACK OUT stop=CONFIG rank1=CONFIG``; each rank writes
what it saw to ``OUT/<scenario>/rank<N>.json``. The scenarios:

* ``stop``: the whole model is pushed along the persona direction until a `stop` fires;
* ``realign`` / ``realign_fail``: every training answer carries a marker that the module pushes
  along the persona direction; realignment swaps in benign (unmarked) batches, which the module
  pulls back (``realign``: it recovers) or leaves alone (``realign_fail``: it fails and the
  fallback stops). Each rank records the steps it trained on benign batches;
* ``rank1``: a few samples that only rank 1's shard holds carry the persona direction in their
  input embeddings, so only rank 1 ever sees them; rank 0 must still flag and count them. At
  step 2 rank 1's direction signal raises: rank 0 must count that and go on with its own batch.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from em_monitor.callbacks import PersonaMonitor
from safetensors.torch import load_file
from torch.utils.data import DataLoader, DistributedSampler

from em_monitor.chat import ChatCollator
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.runtime.signals import DirectionSignal
from em_monitor.tiny import tiny_llama, tiny_tokenizer

N_SAMPLES, BATCH_SIZE = 256, 4
#: (step, index in rank 1's batch) planted in the ``rank1`` scenario: steps 4 and 6 are sampling
#: steps after the 2-step baseline (every_n_steps 2).
PLANTED_SLOTS = ((4, 0), (4, 1), (6, 2))
#: How far along the unit persona direction a planted sample's embeddings are moved.
PLANT_STRENGTH = 50.0
#: The step at which rank 1's scoring fails in the ``rank1`` scenario.
FAILING_STEP = 2
_DIRECTION_SCORE = DirectionSignal.score


def rank_one_indices() -> list[int]:
    """Dataset indices of rank 1's training samples, in order, as Lightning's DistributedSampler deals them.

    Lightning shuffles training data with a DistributedSampler seeded by PL_GLOBAL_SEED (0 unless
    set); the same sampler class asked for rank 1's share gives the same order here, before launch.
    The variable is read, not assumed: a parent that called ``seed_everything`` passes its seed on.
    """
    seed = int(os.environ.get("PL_GLOBAL_SEED", 0))
    return list(DistributedSampler(range(N_SAMPLES), num_replicas=2, rank=1, shuffle=True, seed=seed))


class PersonaPushModule(CausalLMModule):
    """LM loss plus a push of block 2's output along the pack's persona direction."""

    def __init__(self, model, tokenizer, direction: torch.Tensor) -> None:
        super().__init__(model, tokenizer, lr=3e-2)
        self.direction = direction / direction.norm()

    def training_step(self, batch, batch_idx):
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"], output_hidden_states=True)
        return out.loss - (out.hidden_states[3] @ self.direction).mean()


class PlantedSamplesModule(CausalLMModule):
    """Plain LM training, except that rows marked ``planted`` get the persona direction added to their embeddings.

    The residual stream carries the added vector up to the monitored block, so exactly those
    samples score high, on whichever rank holds them. Records which (step, batch index) it saw.
    """

    def __init__(self, model, tokenizer, direction: torch.Tensor) -> None:
        super().__init__(model, tokenizer, lr=1e-4)
        self.direction = direction / direction.norm()
        self.planted_seen: list[list[int]] = []

    def training_step(self, batch, batch_idx):
        planted = batch["planted"]
        self.planted_seen += [[self.global_step, int(index)] for index in torch.nonzero(planted).flatten()]
        embeds = self.model.get_input_embeddings()(batch["input_ids"])
        embeds = embeds + PLANT_STRENGTH * planted[:, None, None].to(embeds.dtype) * self.direction.to(embeds.dtype)
        return self.model(inputs_embeds=embeds, attention_mask=batch["attention_mask"], labels=batch["labels"]).loss


#: The token that marks a bad training answer in the realign scenarios (benign data lacks it).
MARK = "~"


class MarkedPushModule(CausalLMModule):
    """Marked rows push block 2's output along the persona direction; with ``pull``, benign rows pull it back.

    Records the steps at which a whole batch was benign: the realignment's swapped-in batches.
    """

    def __init__(self, model, tokenizer, direction: torch.Tensor, *, pull: bool) -> None:
        super().__init__(model, tokenizer, lr=3e-2)
        self.direction = direction / direction.norm()
        self.mark = tokenizer.convert_tokens_to_ids(MARK)
        self.pull = pull
        self.benign_steps: list[int] = []

    def training_step(self, batch, batch_idx):
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"], output_hidden_states=True)
        projection = (out.hidden_states[3] @ self.direction).mean(dim=1)
        marked = (batch["input_ids"] == self.mark).any(dim=1)
        if not marked.any():
            self.benign_steps.append(self.global_step)
        push = projection[marked].sum() - (projection[~marked].sum() if self.pull else 0.0)
        return out.loss - push / len(projection)


def _failing_score(self, activations, mask):
    raise RuntimeError("planted scoring failure on rank 1")


class FailOnRankOne(pl.Callback):
    """Makes rank 1's direction signal raise for one training step (class-level patch, this process only)."""

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        failing = trainer.global_rank == 1 and trainer.global_step == FAILING_STEP
        DirectionSignal.score = _failing_score if failing else _DIRECTION_SCORE


class PlantingCollator:
    """ChatCollator's batch plus a ``planted`` flag per row."""

    def __init__(self, collator: ChatCollator) -> None:
        self.collator = collator

    def __call__(self, samples: list[dict]) -> dict[str, torch.Tensor]:
        batch = self.collator([{"messages": sample["messages"]} for sample in samples])
        batch["planted"] = torch.tensor([sample["planted"] for sample in samples])
        return batch


def run_scenario(scenario: str, config: str, pack: str, out: Path) -> None:
    """One DDP fit; each rank writes ``OUT/<scenario>/rank<N>.json``."""
    tokenizer = tiny_tokenizer()
    rank_one = rank_one_indices()
    planted = {rank_one[step * BATCH_SIZE + index] for step, index in PLANTED_SLOTS} if scenario == "rank1" else set()
    mark = MARK if scenario.startswith("realign") else ""
    samples = [
        {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"{mark}Answer {i}."}], "planted": i in planted}
        for i in range(N_SAMPLES)
    ]
    direction = load_file(Path(pack) / "directions.safetensors")["persona_direction"]
    collator = PlantingCollator(ChatCollator(tokenizer, max_length=48))
    if scenario.startswith("realign"):
        module = MarkedPushModule(tiny_llama(), tokenizer, direction, pull=scenario == "realign")
    else:
        module = (PersonaPushModule if scenario == "stop" else PlantedSamplesModule)(tiny_llama(), tokenizer, direction)
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    trainer = pl.Trainer(
        max_steps=8 if scenario == "rank1" else 40, accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=out / scenario,
        callbacks=[monitor, FailOnRankOne()] if scenario == "rank1" else [monitor],
    )
    trainer.fit(module, DataLoader(samples, batch_size=BATCH_SIZE, collate_fn=collator))
    report = {
        "rank": trainer.global_rank,
        "global_step": trainer.global_step,
        "serving": monitor.metrics_url is not None or monitor.monitor.metrics is not None,
        "planted_seen": getattr(module, "planted_seen", []),
        "benign_steps": getattr(module, "benign_steps", []),
    }
    if monitor.monitor.metrics is not None:
        registry = monitor.monitor.metrics.registry
        report["flagged_total"] = registry.get_sample_value("em_monitor_flagged_samples_total", {"run": "test", "signal": "persona_direction"})
        report["errors"] = {
            sample.labels["stage"]: sample.value
            for metric in registry.collect() if metric.name == "em_monitor_errors"
            for sample in metric.samples if sample.name.endswith("_total") and sample.value
        }
        report["realignments"] = {
            outcome: registry.get_sample_value("em_monitor_realignments_total", {"run": "test", "outcome": outcome}) for outcome in ("recovered", "failed")
        }
    (out / scenario).mkdir(parents=True, exist_ok=True)
    (out / scenario / f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


def main(pack: str, out: str, *scenarios: str) -> None:
    """Run each ``scenario=CONFIG`` in turn in the same two processes (DDP start-up is the slow part)."""
    for item in scenarios:
        scenario, config = item.split("=", 1)
        run_scenario(scenario, config, pack, Path(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
