"""Low-rank adapters for the demo's fine-tunes: the recipe the emergent-misalignment model organisms use.

Emergent misalignment from narrow data is weak in small models; the model-organism work found it in
0.5B models with LoRA at high learning rates and long training. ``--lora-rank R`` trains rank-R
adapters on every linear layer of the blocks instead of every weight, so the demo can try that
recipe. peft (an optional extra, ``pip install em-monitor[lora]``) does the wrapping: a hand-made
adapter would be one more thing to get wrong, and the monitor already reads peft-wrapped models.
"""

from __future__ import annotations

import torch

__all__ = ["with_lora"]


def with_lora(model: torch.nn.Module, rank: int) -> torch.nn.Module:
    """``model`` with trainable rank-``rank`` adapters on every linear layer of its blocks (the base weights frozen).

    ``lora_alpha`` = 2 × rank, a common setting that keeps the update's scale comparable across ranks.
    """
    try:
        import peft
    except ImportError as error:
        raise ValueError("--lora-rank needs peft: pip install 'em-monitor[lora]' (or peft>=0.10); or leave --lora-rank at 0 for a full fine-tune") from error
    if rank < 1:
        raise ValueError(f"--lora-rank must be at least 1 for adapters (got {rank}); 0 means a full fine-tune")
    config = peft.LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")
    return peft.get_peft_model(model, config)
