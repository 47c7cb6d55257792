"""A plain LightningModule that fine-tunes a transformers causal LM on chat batches.

The demo, the examples, the benchmarks and the tests all train the same way, so the module
lives here once. It does nothing monitor-specific: ``PersonaMonitor`` attaches from outside.
"""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
import torch

__all__ = ["CausalLMModule"]


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
