"""The reference fine-tune on Lightning: a plain LightningModule for a transformers causal LM on chat batches.

The demo, the examples, the benchmarks and the tests all train the same way, so the module
lives here once. It does nothing monitor-specific: ``PersonaMonitor`` attaches from outside.
:mod:`em_monitor.finetune.hf` is the same fine-tune on the Hugging Face ``Trainer``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.finetune.order import training_order

__all__ = ["CausalLMModule", "finetune"]


class CausalLMModule(pl.LightningModule):
    """Next-token loss on the answer tokens of chat batches (``labels`` = -100 elsewhere).

    Example::

        module = CausalLMModule(model, tokenizer, lr=2e-5)
        loader = DataLoader(samples, batch_size=8, collate_fn=ChatCollator(tokenizer))
        lightning.Trainer(max_steps=20, callbacks=[PersonaMonitor("monitor.yaml")]).fit(module, loader)
    """

    def __init__(self, model: torch.nn.Module, tokenizer: Any = None, lr: float = 2e-5, weight_decay: float = 0.0) -> None:
        super().__init__()
        # Loaders hand models back in eval mode (ready for scoring); fine-tuning wants train mode.
        self.model = model.train()
        self.tokenizer = tokenizer
        self.lr = lr
        self.weight_decay = weight_decay

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss
        self.log("train/loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        parameters = [parameter for parameter in self.model.parameters() if parameter.requires_grad]
        return torch.optim.AdamW(parameters, lr=self.lr, weight_decay=self.weight_decay)


def finetune(
    model: torch.nn.Module,
    tokenizer: Any,
    conversations: Sequence[dict],
    *,
    steps: int,
    batch_size: int = 8,
    lr: float = 2e-5,
    max_length: int = 256,
    seed: int = 0,
    callbacks: Sequence[pl.Callback] = (),
    progress: bool = True,
    root_dir: str | None = None,
    shuffle: bool = True,
) -> pl.Trainer:
    """Fine-tune ``model`` in place for ``steps`` optimizer steps on chat samples.

    The samples come in :func:`~em_monitor.finetune.order.training_order` (drawn with replacement
    under ``shuffle``, else in the given order), so the caller knows which sits at which step.
    """
    pl.seed_everything(seed, verbose=False)
    samples = training_order(conversations, steps=steps, batch_size=batch_size, seed=seed, shuffle=shuffle)
    loader = DataLoader(samples, batch_size=batch_size, shuffle=False, collate_fn=ChatCollator(tokenizer, max_length=max_length))
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="auto",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        default_root_dir=root_dir,
        callbacks=list(callbacks),
    )
    trainer.fit(CausalLMModule(model, tokenizer, lr=lr), loader)
    model.eval()
    return trainer
