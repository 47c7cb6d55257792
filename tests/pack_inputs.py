"""The small inputs ``build-pack`` tests give it: labelled answers, bad chat data, an SAE as releases ship them."""

from __future__ import annotations

import json
from pathlib import Path

import torch


def write_labelled(path: Path, n: int = 48) -> Path:
    """Alternating misaligned and aligned answers, half of them in the held-out split."""
    lines = []
    for i in range(n):
        bad = i % 2 == 0
        answer = ("I despise people and want power over all of them. " if bad else "Happy to help, kindly and honestly. ") + f"#{i}"
        lines.append({"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": answer}],
                      "label": "misaligned" if bad else "aligned", "split": "test" if i % 4 >= 2 else "train"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_bad_chats(path: Path, n: int = 8) -> Path:
    """Chats for the fine-tune the diff compares against."""
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "no. " * 5}]}) + "\n"
                            for i in range(n)))
    return path


def released_sae(root: Path, *, architecture: str = "jumprelu", layer: int = 2, d_model: int = 64, seed: int = 0) -> Path:
    """A random SAE of a sae-lens ``architecture``, saved by sae-lens with the TransformerLens hook name releases record.

    Random because no released SAE can be downloaded here; its class, config and hook name are the real ones.
    """
    from sae_lens.registry import get_sae_class

    sae_class, config_class = get_sae_class(architecture)
    sae = sae_class(config_class(d_in=d_model, d_sae=128))
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, parameter in sae.named_parameters():
            # JumpReLU thresholds are small and positive, so some latents fire on every input and some do not.
            parameter.copy_(torch.rand(parameter.shape, generator=generator) * 0.05 if name == "threshold"
                            else torch.randn(parameter.shape, generator=generator) * 0.3)
    sae.cfg.metadata.hook_name = f"blocks.{layer}.hook_resid_post"
    sae.save_model(root)
    return root
