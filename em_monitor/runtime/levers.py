"""What an adapter lends the controller (the :class:`Levers` protocol), and the torch-level parts adapters share.

The protocol is the whole seam between the core and a training framework: rank, checkpoint,
stop, learning rates, loggers. The helpers below are the parts that do not depend on the
framework (an optimizer's learning rates), so each adapter's levers stay a thin mapping onto it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import torch

__all__ = ["Levers", "learning_rates", "restore_learning_rates", "set_learning_rates"]


class Levers(Protocol):
    """What an adapter lends the controller: where this process sits among the ranks, and its training-loop levers.

    No collectives: the controller exchanges its objects between ranks on a channel of its own,
    with a deadline (:mod:`em_monitor.runtime.collectives`), whatever the framework.
    """

    @property
    def rank(self) -> int: ...

    @property
    def world_size(self) -> int: ...

    def save_checkpoint(self, name: str) -> str:
        """Save a checkpoint of the run (collective where the framework needs it); return where."""

    def request_stop(self) -> None:
        """End training after this step, on every rank."""

    def learning_rates(self) -> list[list[float]]:
        """The current learning rate of every parameter group of every optimizer."""

    def set_learning_rates(self, rates: list[list[float]]) -> None:
        """Set them for the next optimizer step (the controller sets them again before each benign step)."""

    def resume_learning_rates(self, saved: list[list[float]]) -> None:
        """A realignment ended: back to the run's own rates, its LR scheduler's where it has one, else ``saved``."""

    def log_values(self, values: Mapping[str, float]) -> None:
        """Hand values to the framework's own loggers (rank 0 calls it)."""

    def info(self, message: str) -> None:
        """Tell the user something once (rank 0 only)."""


def learning_rates(optimizers: Sequence[torch.optim.Optimizer]) -> list[list[float]]:
    return [[group["lr"] for group in optimizer.param_groups] for optimizer in optimizers]


def set_learning_rates(optimizers: Sequence[torch.optim.Optimizer], rates: Sequence[Sequence[float]]) -> None:
    for optimizer, group_rates in zip(optimizers, rates):
        for group, rate in zip(optimizer.param_groups, group_rates):
            group["lr"] = rate


def restore_learning_rates(optimizers: Sequence[torch.optim.Optimizer], schedulers: Sequence[object], saved: Sequence[Sequence[float]]) -> None:
    """A realignment ended: give every optimizer the rate its own schedule says now, else the rate saved when it began.

    A ``LambdaLR`` (every Hugging Face warmup/decay schedule is one) computes its rate from the
    step count alone, so its last rate is the schedule's own, untouched by the realignment's; it
    has also stepped already this step (both frameworks step it before the adapter's end-of-step
    hook). Other schedulers derive the next rate from the current one: for them the rate from
    before the realignment is the better guess. Wrapped schedulers (accelerate's) are unwrapped.
    """
    by_optimizer = {}
    for scheduler in schedulers:
        inner = getattr(scheduler, "scheduler", scheduler)
        if isinstance(inner, torch.optim.lr_scheduler.LambdaLR):
            by_optimizer[id(_unwrapped(inner.optimizer))] = inner
    for optimizer, rates in zip(optimizers, saved):
        scheduler = by_optimizer.get(id(_unwrapped(optimizer)))
        current = scheduler.get_last_lr() if scheduler is not None else rates
        for group, rate in zip(optimizer.param_groups, current):
            group["lr"] = rate


def _unwrapped(optimizer: object) -> object:
    """The torch optimizer inside framework wrappers (accelerate's ``AcceleratedOptimizer`` keeps it as ``.optimizer``)."""
    while not isinstance(optimizer, torch.optim.Optimizer) and hasattr(optimizer, "optimizer"):
        optimizer = optimizer.optimizer
    return optimizer
