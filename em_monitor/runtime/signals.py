"""Persona signals: SAE latents, linear probes and persona directions, scored from residuals.

Each signal object turns activations ``[batch, tokens, d_model]`` and a token mask into scores
``[batch, n_names]``, one column per named signal it carries (one SAE yields several watched
latents from one matmul). :class:`SignalSet` puts them together under their names.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import ClassVar

import torch

from em_monitor.runtime.pooling import check_pooling, pool

__all__ = [
    "SIGNAL_KINDS",
    "Signal",
    "DirectionSignal",
    "ProbeSignal",
    "SaeLatentSignal",
    "SignalSet",
]

log = logging.getLogger(__name__)

#: Signal kinds, as used in pack.yaml and in the ``kind`` label of ``em_monitor_signal_value``.
SIGNAL_KINDS: tuple[str, ...] = ("sae_latent", "probe", "direction")
#: SAE architectures whose encoder is per-latent, so the watched latents can be computed alone.
SLICEABLE_SAE_ARCHITECTURES: tuple[str, ...] = ("standard", "jumprelu")


class Signal(ABC):
    """One or more named scalar scores per sample, computed from pooled or per-token activations."""

    kind: ClassVar[str]

    def __init__(self, names: Sequence[str], pooling: str) -> None:
        self.names = tuple(names)
        self.pooling = check_pooling(pooling)

    @abstractmethod
    def score(self, activations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Scores ``[batch, len(self.names)]`` for ``activations[batch, tokens, d_model]``."""


class DirectionSignal(Signal):
    """Projection of the pooled residual onto persona directions (unit-normalised).

    Example::

        signal = DirectionSignal({"persona": torch.randn(64)}, pooling="mean")
        signal.score(torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool)).shape  # (2, 1)
    """

    kind = "direction"

    def __init__(self, directions: Mapping[str, torch.Tensor], pooling: str = "mean") -> None:
        super().__init__(list(directions), pooling)
        matrix = torch.stack([direction.detach().float().flatten() for direction in directions.values()])
        norms = matrix.norm(dim=1, keepdim=True)
        if (norms == 0).any():
            raise ValueError(f"direction signals {self.names} include an all-zero vector")
        self.unit_directions = matrix / norms

    def score(self, activations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = pool(activations.float(), mask, self.pooling)
        return pooled @ self.unit_directions.to(pooled.device).T


class ProbeSignal(Signal):
    """A logistic-regression probe: ``sigmoid(w · pool(x) + b)``, the positive-class probability.

    Loads the ``coef_`` / ``intercept_`` of a scikit-learn ``LogisticRegression`` so the score
    equals its ``predict_proba(...)[:, 1]`` on the same pooled features.
    """

    kind = "probe"

    def __init__(self, name: str, coef: torch.Tensor, intercept: torch.Tensor | float, pooling: str = "mean") -> None:
        super().__init__([name], pooling)
        self.coef = coef.detach().float().flatten()
        self.intercept = float(torch.as_tensor(intercept).flatten()[0])

    def score(self, activations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = pool(activations.float(), mask, self.pooling)
        return torch.sigmoid(pooled @ self.coef.to(pooled.device) + self.intercept).unsqueeze(-1)


class SaeLatentSignal(Signal):
    """Watched latents of a sae-lens SAE, each pooled over tokens.

    The monitor needs a handful of latents out of thousands, so for standard and JumpReLU SAEs
    it gathers just those encoder columns once and computes ``k`` latents instead of ``d_sae``;
    the input preprocessing is the SAE's own ``process_sae_in``, so the result equals
    ``sae.encode(x)[..., ids]``. TopK-style SAEs pick latents by competing across the whole
    dictionary, so for them the full encode runs and this says so in the log.
    """

    kind = "sae_latent"

    def __init__(self, sae, latents: Mapping[str, int], pooling: str = "max") -> None:
        super().__init__(list(latents), pooling)
        self.sae = sae
        self.latent_ids = torch.tensor([int(index) for index in latents.values()], dtype=torch.long)
        d_sae = int(sae.cfg.d_sae)
        out_of_range = [int(index) for index in self.latent_ids if not 0 <= index < d_sae]
        if out_of_range:
            raise ValueError(f"SAE latents {out_of_range} are out of range: the SAE has {d_sae} latents")
        self.architecture = sae.cfg.architecture()
        self.sliced = self.architecture in SLICEABLE_SAE_ARCHITECTURES
        with torch.no_grad():
            if self.sliced:
                self.encoder = sae.W_enc[:, self.latent_ids].detach().clone()
                self.encoder_bias = sae.b_enc[self.latent_ids].detach().clone()
                threshold = getattr(sae, "threshold", None) if self.architecture == "jumprelu" else None
                self.threshold = None if threshold is None else threshold[self.latent_ids].detach().clone()
            else:
                log.info("SAE architecture %r needs the full encode to score %d latents", self.architecture, len(self.names))
        self.device = torch.device("cpu")

    def _follow(self, device: torch.device) -> None:
        """Move the SAE to where the activations are, once: on a GPU run they never leave the GPU.

        Without this, a pack loaded on the CPU meets CUDA activations and every SAE-latent score
        fails (the monitor would count the failures, but watch nothing).
        """
        if device == self.device:
            return
        self.sae.to(device)
        self.latent_ids = self.latent_ids.to(device)
        if self.sliced:
            self.encoder, self.encoder_bias = self.encoder.to(device), self.encoder_bias.to(device)
            self.threshold = None if self.threshold is None else self.threshold.to(device)
        self.device = device

    @torch.no_grad()
    def encode_watched(self, activations: torch.Tensor) -> torch.Tensor:
        """Watched latent activations ``[..., k]`` for residuals ``[..., d_model]`` (any device and float dtype)."""
        activations = activations.float()
        self._follow(activations.device)
        if not self.sliced:
            return self.sae.encode(activations)[..., self.latent_ids]
        sae_in = self.sae.process_sae_in(activations)
        hidden_pre = sae_in @ self.encoder + self.encoder_bias
        latent_acts = self.sae.activation_fn(hidden_pre)
        if self.threshold is not None:
            latent_acts = latent_acts * (hidden_pre > self.threshold).to(latent_acts.dtype)
        return latent_acts

    def score(self, activations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return pool(self.encode_watched(activations).float(), mask, self.pooling)


class SignalSet:
    """All signals of a pack, scored together: ``{name: scores[batch]}``.

    Example::

        signals = SignalSet([DirectionSignal({"persona": torch.randn(64)})])
        scores = signals.score(torch.randn(2, 5, 64), torch.ones(2, 5, dtype=torch.bool))
        scores["persona"].shape  # (2,)
    """

    def __init__(self, signals: Sequence[Signal]) -> None:
        names = [name for signal in signals for name in signal.names]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"signal names must be unique; repeated: {', '.join(duplicates)}")
        self.signals = list(signals)
        self.kinds = {name: signal.kind for signal in signals for name in signal.names}

    @property
    def names(self) -> list[str]:
        return list(self.kinds)

    def score(self, activations: torch.Tensor, mask: torch.Tensor) -> dict[str, torch.Tensor]:
        """Per-sample scores of every signal: ``{name: tensor[batch]}``.

        Two markers, kept apart because they mean different things: NaN for a sample with no
        token to pool (nothing to say about it), +inf for a sample whose activations at the pooled
        positions are NaN or inf (the watched model is broken there, which the monitor counts).
        """
        broken = ((~torch.isfinite(activations)).any(dim=-1) & mask.bool()).any(dim=-1).cpu()
        scores: dict[str, torch.Tensor] = {}
        for signal in self.signals:
            columns = signal.score(activations, mask)
            for position, name in enumerate(signal.names):
                column = columns[:, position].detach().cpu()
                scores[name] = column.masked_fill(broken, float("inf")) if broken.any() else column
        return scores
