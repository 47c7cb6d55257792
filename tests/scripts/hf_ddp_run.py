"""Run by tests/test_hf_distributed.py under ``torchrun --nproc_per_node 2``: PersonaMonitorCallback in a 2-process CPU DDP
``transformers.Trainer.train`` (gloo).

torchrun starts this file once per rank, so it must be a script (not a test function). Usage:
``hf_ddp_run.py OUT SCENARIO=CONFIG ...``; the scenarios run one after the other in the same two
processes (DDP start-up costs more than the tiny runs), and each rank writes what it saw to
``OUT/<scenario>/rank<N>.json``: its rank, the step it ended at, whether its callback serves
metrics, the batch sizes its training forward received, and (rank 0) a scrape of the endpoint
taken over HTTP in the middle of training.
"""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path

import torch
from em_monitor.callbacks.hf import PersonaMonitorCallback
from transformers import Trainer, TrainerCallback, TrainingArguments

from em_monitor.chat import ChatCollator
from em_monitor.tiny import tiny_llama, tiny_tokenizer

N_SAMPLES, BATCH_SIZE = 64, 4
#: The step after which rank 0 scrapes its endpoint (sampling steps: 0, 1 baseline, then every 2).
SCRAPE_STEP = 5


class TrainerCollator(ChatCollator):
    """ChatCollator's batch as a Trainer passes it to the model: only the model's own inputs (labels mark the answer)."""

    def __call__(self, samples):
        batch = super().__call__(samples)
        batch.pop("response_mask")
        return batch


class Observe(TrainerCallback):
    """Records this rank's training-forward batch sizes and, on the rank that serves, a mid-training scrape of the endpoint."""

    def __init__(self, monitor: PersonaMonitorCallback) -> None:
        self.monitor = monitor
        self.batch_sizes: list[int] = []
        self.scrape: str | None = None
        self.metrics_url_mid_training: str | None = None
        self.server_mid_training = False

    def on_train_begin(self, args, state, control, model=None, **kwargs) -> None:
        def record(module, _args, kw) -> None:
            if module.training:
                self.batch_sizes.append(int(kw["input_ids"].shape[0]))

        self._hook = model.register_forward_pre_hook(record, with_kwargs=True)

    def on_step_end(self, args, state, control, **kwargs) -> None:
        if state.global_step == SCRAPE_STEP:
            self.metrics_url_mid_training = self.monitor.metrics_url
            self.server_mid_training = self.monitor.controller.server is not None  # the controller drops it at train end
            if self.metrics_url_mid_training is not None:
                self.scrape = urllib.request.urlopen(self.metrics_url_mid_training, timeout=5).read().decode()

    def on_train_end(self, args, state, control, **kwargs) -> None:
        self._hook.remove()


def run_scenario(scenario: str, config: str, out: Path) -> None:
    tokenizer = tiny_tokenizer()
    samples = [
        {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 5 + 1)}]}
        for i in range(N_SAMPLES)
    ]
    args = TrainingArguments(
        output_dir=str(out / scenario / "trainer"), max_steps=6 if scenario == "run" else 20, per_device_train_batch_size=BATCH_SIZE,
        learning_rate=1e-3, use_cpu=True, ddp_backend="gloo", report_to=[], save_strategy="no", logging_steps=1, disable_tqdm=True,
        remove_unused_columns=False,
    )
    monitor = PersonaMonitorCallback(config, tokenizer=tokenizer)
    observe = Observe(monitor)
    trainer = Trainer(model=tiny_llama(), args=args, train_dataset=samples, data_collator=TrainerCollator(tokenizer, max_length=48),
                      processing_class=tokenizer, callbacks=[monitor, observe])
    trainer.train()
    report = {
        "rank": args.process_index,
        "world_size": args.world_size,
        "distributed": torch.distributed.is_available() and torch.distributed.is_initialized(),
        "backend": torch.distributed.get_backend() if torch.distributed.is_initialized() else None,
        "global_step": trainer.state.global_step,
        "has_controller": monitor.controller is not None,
        "server_mid_training": observe.server_mid_training,
        "metrics_url_mid_training": observe.metrics_url_mid_training,
        "metrics": monitor.monitor.metrics is not None,
        "batch_sizes": observe.batch_sizes,
        "scrape": observe.scrape,
    }
    (out / scenario).mkdir(parents=True, exist_ok=True)
    (out / scenario / f"rank{args.process_index}.json").write_text(json.dumps(report))


def main(out: str, *scenarios: str) -> None:
    torch.set_num_threads(1)
    for item in scenarios:
        scenario, config = item.split("=", 1)
        run_scenario(scenario, config, Path(out))


if __name__ == "__main__":
    main(*sys.argv[1:])
