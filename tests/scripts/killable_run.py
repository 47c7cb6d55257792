"""Run by tests/test_kill_resume.py: a monitored fit that checkpoints as it goes, to be killed and resumed.

The test kills this process with SIGKILL mid-training (no teardown, no flush beyond what the
monitor does per line), then runs it again with ``--resume`` from the last checkpoint. Each step
prints ``step N`` and sleeps a little, so the test can pick the moment to kill.

Usage: killable_run.py CONFIG OUT STEPS [--resume CKPT]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
from em_monitor.callbacks import PersonaMonitor
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.tiny import tiny_llama, tiny_tokenizer

CHECKPOINT_EVERY = 5


class Pace(pl.Callback):
    """Says which step finished, and slows the run enough for the test to kill it between steps."""

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        print(f"step {trainer.global_step}", flush=True)
        time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("out")
    parser.add_argument("steps", type=int)
    parser.add_argument("--resume")
    args = parser.parse_args()
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    samples = [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]} for i in range(400)]
    loader = DataLoader(samples, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=48))
    monitor = PersonaMonitor(args.config, tokenizer=tokenizer)
    checkpoints = ModelCheckpoint(dirpath=Path(args.out) / "checkpoints", every_n_train_steps=CHECKPOINT_EVERY, save_top_k=-1)
    trainer = pl.Trainer(
        max_steps=args.steps, accelerator="cpu", devices=1, logger=False, enable_progress_bar=False,
        enable_model_summary=False, default_root_dir=args.out, callbacks=[monitor, checkpoints, Pace()],
    )
    trainer.fit(CausalLMModule(tiny_llama(), tokenizer, lr=1e-3), loader, ckpt_path=args.resume)
    registry = monitor.monitor.metrics.registry
    counts = {source: registry.get_sample_value("em_monitor_samples_total", {"run": "test", "source": source}) for source in ("prompts", "train_batch")}
    Path(args.out, "result.json").write_text(json.dumps({"global_step": trainer.global_step, "samples_total": counts}))


if __name__ == "__main__":
    main()
