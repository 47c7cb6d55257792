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
from torch.utils.data import DataLoader, RandomSampler

from em_monitor.chat import ChatCollator

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

    With ``shuffle`` the samples are drawn with replacement, which makes ``steps`` independent of
    the dataset size. Without it they are used in the given order (cycled if too few), so the
    caller knows which sample sits at which step and batch index.
    """
    pl.seed_everything(seed, verbose=False)
    samples = list(conversations)
    if shuffle:
        generator = torch.Generator().manual_seed(seed)
        sampler = RandomSampler(samples, replacement=True, num_samples=steps * batch_size, generator=generator)
    else:
        samples = [samples[index % len(samples)] for index in range(steps * batch_size)]
        sampler = None
    loader = DataLoader(samples, batch_size=batch_size, sampler=sampler, shuffle=False, collate_fn=ChatCollator(tokenizer, max_length=max_length))
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
