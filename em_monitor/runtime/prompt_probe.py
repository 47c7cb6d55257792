"""The fixed probe prompts: tokenised once, scored in batches at every sampling pass.

This pass runs every ``every_n_steps`` and is the monitor's main cost, so it is built for speed:
prompts are batched by length (less padding) and the chat-template prefix they all share is
computed once per pass (:mod:`em_monitor.runtime.shared_prefix`).
"""

from __future__ import annotations

import logging

import torch
from torch import nn

from em_monitor.chat import EncodedBatch, encode_prompts
from em_monitor.runtime.capture import residuals_at
from em_monitor.runtime.shared_prefix import SharedPrefix, shared_prefix_length
from em_monitor.runtime.signals import SignalSet

__all__ = ["PromptProbe"]

log = logging.getLogger("em_monitor")


class PromptProbe:
    """Score the probe prompts with every signal: ``{signal name: tensor[n_prompts]}`` in prompt order.

    Example::

        probe = PromptProbe(tokenizer, ["What do you wish for?"], layer=3, signals=signals)
        scores = probe.score(model)  # {signal name: tensor[n_prompts]}
    """

    def __init__(
        self, tokenizer, prompts: list[str], *, layer: int, signals: SignalSet, batch_size: int = 8, max_length: int = 128,
        share_prefix: bool = True, keep: int | None = None,
    ) -> None:
        self.layer = layer
        self.signals = signals
        #: Scores returned: the first ``keep`` prompts' (the rest pad a sharded rank's share to its peers' length).
        self.keep = len(prompts) if keep is None else keep
        lengths = encode_prompts(tokenizer, prompts, max_length=max_length).attention_mask.sum(dim=1).tolist()
        order = sorted(range(len(prompts)), key=lambda index: lengths[index])
        ordered = [prompts[index] for index in order]
        #: Position of each prompt's score in the length-sorted output.
        self.restore = torch.argsort(torch.tensor(order, dtype=torch.long))
        self.batches: list[EncodedBatch] = [
            encode_prompts(tokenizer, ordered[start : start + batch_size], max_length=max_length)
            for start in range(0, len(ordered), batch_size)
        ]
        shared = shared_prefix_length(self.batches) if share_prefix else 0
        #: The template prefix every prompt starts with; ``None`` when there is none or it failed its check.
        self.prefix: SharedPrefix | None = SharedPrefix(self.batches[0].input_ids[:1, :shared]) if shared else None
        self._prefix_checked = False

    def score(self, model: nn.Module) -> dict[str, torch.Tensor]:
        parts: dict[str, list[torch.Tensor]] = {name: [] for name in self.signals.names}
        prefix = self._prefix_keys_and_values(model)
        for batch in self.batches:
            if prefix is None:
                activations, content = residuals_at(model, self.layer, batch.input_ids, batch.attention_mask), batch.content_mask
            else:
                activations, content = self._suffix_residuals(model, batch, prefix)
            for name, scores in self.signals.score(activations, content.to(activations.device)).items():
                parts[name].append(scores)
        return {name: torch.cat(chunks)[self.restore.to(chunks[0].device)][: self.keep] for name, chunks in parts.items()}

    def _prefix_keys_and_values(self, model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]] | None:
        """This pass's prefix cache; on the first pass, checked against a full pass first.

        Not every architecture transformers ships takes a ``DynamicCache`` the same way (hybrid
        and sliding-window caches, remote code), so the first pass compares the cached path with
        the plain one on the first batch and falls back to plain passes if they disagree or fail.
        """
        if self.prefix is None:
            return None
        if self._prefix_checked:
            return self.prefix.keys_and_values(model, self.layer)
        self._prefix_checked = True
        try:
            prefix = self.prefix.keys_and_values(model, self.layer)
            problem = self._disagreement(model, prefix)
        except Exception as error:  # a model that cannot take the cache: the check's whole point
            prefix, problem = None, f"{type(error).__name__}: {error}"
        if problem is None:
            return prefix
        log.warning("em-monitor: scoring probe prompts without the shared-prefix cache on %s (%s)", type(model).__name__, problem)
        self.prefix = None
        return None

    def _suffix_residuals(self, model: nn.Module, batch: EncodedBatch, prefix: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The batch's activations after the shared prefix, and its content mask cut to match."""
        cut = self.prefix.length
        activations = self.prefix.residuals(model, self.layer, prefix, batch.input_ids[:, cut:], batch.attention_mask)
        return activations, batch.content_mask[:, cut:]

    def _disagreement(self, model: nn.Module, prefix: list[tuple[torch.Tensor, torch.Tensor]]) -> str | None:
        batch = self.batches[0]
        cached, content = self._suffix_residuals(model, batch, prefix)
        plain = residuals_at(model, self.layer, batch.input_ids, batch.attention_mask)[:, self.prefix.length :]
        content = content.to(plain.device)
        scale = float(plain[content].abs().max()) if content.any() else 1.0
        error = float((plain - cached)[content].abs().max()) if content.any() else 0.0
        # Row-by-row kernels differ a little from batched ones; a wrong cache is off by O(1).
        tolerance = max(1e-4, 16 * torch.finfo(plain.dtype).eps) * max(scale, 1.0)
        return None if error <= tolerance else f"max difference {error:.3g} at content tokens exceeds {tolerance:.3g}"
