"""Persona signals: SAE latents, linear probes and persona directions, scored from residuals.

Each signal object turns activations ``[batch, tokens, d_model]`` and a token mask into scores
``[batch, n_names]``, one column per named signal it carries (one SAE yields several watched
latents from one matmul). :class:`SignalSet` puts them together under their names.
"""

from __future__ import annotations

import dataclasses
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
    "sae_encode_path",
    "watched_sae",
]

log = logging.getLogger(__name__)

#: Signal kinds, as used in pack.yaml and in the ``kind`` label of ``em_monitor_signal_value``.
SIGNAL_KINDS: tuple[str, ...] = ("sae_latent", "probe", "direction")
#: sae-lens SAE architectures whose latents are computed each from its own encoder column, so the watched
#: latents can be computed alone. (BatchTopK and Matryoshka SAEs are saved by sae-lens as JumpReLU.) The
#: others (TopK, AbsTopK, matching pursuit, temporal) pick latents by competing across the whole dictionary.
SLICEABLE_SAE_ARCHITECTURES: tuple[str, ...] = ("standard", "gated", "jumprelu")


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
    """A logistic-regression probe: ``sigmoid(w · pool(x) + b)``, the positive-class probability, or its log-odds.

    Loads the ``coef_`` / ``intercept_`` of a scikit-learn ``LogisticRegression`` so the score
    equals its ``predict_proba(...)[:, 1]`` (``output="logit"``: its ``decision_function``) on the
    same pooled features. The log-odds suit a per-sample flag: a probability saturates, so once
    clean samples reach 0.999 no threshold is left between them and the bad ones.
    """

    kind = "probe"

    def __init__(self, name: str, coef: torch.Tensor, intercept: torch.Tensor | float, pooling: str = "mean",
                 output: str = "probability") -> None:
        super().__init__([name], pooling)
        self.coef = coef.detach().float().flatten()
        self.intercept = float(torch.as_tensor(intercept).flatten()[0])
        self.output = output

    def score(self, activations: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        pooled = pool(activations.float(), mask, self.pooling)
        logit = pooled @ self.coef.to(pooled.device) + self.intercept
        return (logit if self.output == "logit" else torch.sigmoid(logit)).unsqueeze(-1)


def sae_encode_path(architecture: str) -> str:
    """How the monitor encodes an SAE of ``architecture``: ``watched`` (only the watched latents) or ``full``."""
    return "watched" if architecture in SLICEABLE_SAE_ARCHITECTURES else "full"


def watched_sae(sae, latent_ids: torch.Tensor):
    """A copy of ``sae`` that keeps only ``latent_ids``: the same sae-lens class and config but ``d_sae``, so its
    own ``encode`` (input processing, activation, gating or thresholds) gives ``sae.encode(x)[..., latent_ids]``.

    Why a copy rather than the formulas: each architecture encodes its own way, and calling sae-lens's
    code keeps the fast path equal to it, for every per-latent architecture. Returns None when a
    parameter has a shape this does not know how to slice (the caller then runs the full encode).
    """
    d_sae = int(sae.cfg.d_sae)
    sliced: dict[str, torch.Tensor] = {}
    for name, tensor in sae.state_dict().items():
        if name == "W_enc" and tensor.shape[-1] == d_sae:
            sliced[name] = tensor[:, latent_ids]
        elif name == "W_dec" and tensor.shape[0] == d_sae:
            sliced[name] = tensor[latent_ids]
        elif tensor.ndim == 1 and tensor.shape[0] == d_sae:
            sliced[name] = tensor[latent_ids]
        elif d_sae not in tensor.shape:
            sliced[name] = tensor
        else:
            return None
    copy = type(sae)(dataclasses.replace(sae.cfg, d_sae=len(latent_ids)))
    copy.load_state_dict({name: tensor.detach().clone() for name, tensor in sliced.items()})
    return copy.to(dtype=next(iter(sliced.values())).dtype).eval()


class SaeLatentSignal(Signal):
    """Watched latents of a sae-lens SAE, each pooled over tokens.

    The monitor needs a handful of latents out of thousands, so for per-latent architectures
    (:data:`SLICEABLE_SAE_ARCHITECTURES`) it keeps a copy of the SAE cut down to those latents
    (:func:`watched_sae`) and encodes ``k`` latents instead of ``d_sae``, equal to
    ``sae.encode(x)[..., ids]``. TopK-style SAEs pick latents by competing across the whole
    dictionary, so for them the full encode runs, and ``sliced`` (and the log) says so.
    """

    kind = "sae_latent"

    def __init__(self, sae, latents: Mapping[str, int], pooling: str = "max") -> None:
        super().__init__(list(latents), pooling)
        self.latent_ids = torch.tensor([int(index) for index in latents.values()], dtype=torch.long)
        d_sae = int(sae.cfg.d_sae)
        out_of_range = [int(index) for index in self.latent_ids if not 0 <= index < d_sae]
        if out_of_range:
            raise ValueError(f"SAE latents {out_of_range} are out of range: the SAE has {d_sae} latents")
        self.architecture = sae.cfg.architecture()
        watched = watched_sae(sae, self.latent_ids) if self.architecture in SLICEABLE_SAE_ARCHITECTURES else None
        #: Whether only the watched latents are encoded (else the full dictionary, then a selection).
        self.sliced = watched is not None
        self.sae = watched if watched is not None else sae
        if not self.sliced:
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
        self.device = device

    @torch.no_grad()
    def encode_watched(self, activations: torch.Tensor) -> torch.Tensor:
        """Watched latent activations ``[..., k]`` for residuals ``[..., d_model]`` (any device and float dtype)."""
        activations = activations.float()
        self._follow(activations.device)
        latents = self.sae.encode(activations)
        return latents if self.sliced else latents[..., self.latent_ids]

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
