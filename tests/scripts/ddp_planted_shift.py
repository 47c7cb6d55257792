"""Run by tests/test_ddp.py: a 2-process CPU DDP fit with a planted persona shift and a `stop` action.

Lightning's DDP launcher re-executes this file for rank 1, so it must be a script (not a test
function). Each rank writes what it saw to ``OUT/rank<N>.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import lightning.pytorch as pl
import torch
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from em_monitor.callbacks import PersonaMonitor
from em_monitor.callbacks.finetune import CausalLMModule
from em_monitor.chat import ChatCollator
from em_monitor.tiny import tiny_llama, tiny_tokenizer


class PersonaPushModule(CausalLMModule):
    """LM loss plus a push of block 2's output along the pack's persona direction."""

    def __init__(self, model, tokenizer, direction: torch.Tensor) -> None:
        super().__init__(model, tokenizer, lr=3e-2)
        self.direction = direction / direction.norm()

    def training_step(self, batch, batch_idx):
        out = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"], output_hidden_states=True)
        return out.loss - (out.hidden_states[3] @ self.direction).mean()


def main(config: str, pack: str, out: str) -> None:
    tokenizer = tiny_tokenizer()
    samples = [
        {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]}
        for i in range(256)
    ]
    loader = DataLoader(samples, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=48))
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    direction = load_file(Path(pack) / "directions.safetensors")["persona_direction"]
    trainer = pl.Trainer(
        max_steps=40, accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=out, callbacks=[monitor],
    )
    trainer.fit(PersonaPushModule(tiny_llama(), tokenizer, direction), loader)
    report = {
        "rank": trainer.global_rank,
        "global_step": trainer.global_step,
        "serving": monitor.metrics_url is not None or monitor.monitor.metrics is not None,
    }
    Path(out, f"rank{trainer.global_rank}.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:4])
