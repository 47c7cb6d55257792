"""The reference fine-tune on the Hugging Face ``Trainer``: the same training as :func:`em_monitor.finetune.lightning.finetune`.

Same optimizer (torch AdamW, weight decay 0), constant rate, no gradient clipping, mean loss over
the answer tokens, and the same sample order for the same seed, so the demo, the examples and
the tests can run either framework and compare. Nothing here is monitor-specific: the monitor's
callback (and, for realignment, a Trainer class from ``realigning``) come in from outside.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments, set_seed

from em_monitor.chat import ChatCollator
from em_monitor.finetune.order import training_order

__all__ = ["finetune_hf"]


def finetune_hf(
    model: torch.nn.Module,
    tokenizer: Any,
    conversations: Sequence[dict],
    *,
    steps: int,
    batch_size: int = 8,
    lr: float = 2e-5,
    max_length: int = 256,
    seed: int = 0,
    callbacks: Sequence[TrainerCallback] = (),
    progress: bool = True,
    root_dir: str | None = None,
    shuffle: bool = True,
    trainer_class: type[Trainer] = Trainer,
) -> Trainer:
    """Fine-tune ``model`` in place for ``steps`` optimizer steps on chat samples with ``trainer_class``.

    The samples come in :func:`~em_monitor.finetune.order.training_order`, the order Lightning's
    fine-tune uses for the same seed, read in sequence, so the caller knows which sits at which
    step and batch index. Checkpoints (the ``checkpoint`` action's) go to ``root_dir``.
    """
    set_seed(seed)
    samples = training_order(conversations, steps=steps, batch_size=batch_size, seed=seed, shuffle=shuffle)
    args = TrainingArguments(
        output_dir=root_dir or os.getcwd(),
        max_steps=steps,
        per_device_train_batch_size=batch_size,
        learning_rate=lr,
        lr_scheduler_type="constant",
        weight_decay=0.0,
        max_grad_norm=0.0,
        optim="adamw_torch",
        train_sampling_strategy="sequential",
        seed=seed,
        report_to=[],
        save_strategy="no",
        logging_steps=max(1, steps // 20),
        disable_tqdm=not progress,
        remove_unused_columns=False,  # the dataset holds chats; the collator makes the model's inputs
        dataloader_pin_memory=torch.cuda.is_available(),
    )
    trainer = trainer_class(model=model, args=args, train_dataset=samples, processing_class=tokenizer, callbacks=list(callbacks),
                            data_collator=ChatCollator(tokenizer, max_length=max_length))
    trainer.train()
    model.eval()
    return trainer
