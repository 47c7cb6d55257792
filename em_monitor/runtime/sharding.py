"""The monitor under sharded training: which of its passes run where, and what is refused at start-up.

Under FSDP, FSDP2 and DeepSpeed ZeRO-3 every rank holds a shard of the parameters and every
forward pass is a collective: all ranks must run it, the same number of times. A forward on rank
0 alone would wait forever for shards the other ranks never send: the monitor would hang the run
it watches. So:

* The ``train_batch`` source is safe everywhere: every rank scores its own batch from the
  training forward itself.
* Where the strategy is FSDP2 (``fully_shard``: Lightning's ``ModelParallelStrategy``), the probe
  passes (``prompts``, ``generations``) run on every rank, each with its own share of the
  prompts (:func:`rank_share`), generating in lockstep; rank 0 gathers the scores. Tested on
  2 CPU ranks (``tests/test_fsdp2.py``).
* Elsewhere (FSDP1, ZeRO-3, the Hugging Face Trainer's ``accelerate`` FSDP) those passes, and
  everything else that runs a forward on rank 0 alone (on-policy benign answers at start-up, the
  behavioural check), are refused at start-up with a message naming the strategy and the fix.
  They are not refused for lack of a design (the FSDP2 path is the same code) but for lack of a
  test: Lightning refuses FSDP1 and DeepSpeed on CPU, and this project has no GPU to run them on.

DDP and ZeRO-2 keep whole parameters on every rank: rank 0's passes stay on rank 0 there, with
no exchange before them and no generation in lockstep. Splitting them across ranks would divide
their wall time by the number of ranks on GPUs; that is not measured here (two CPU cores cannot
run two ranks side by side), so DDP keeps the path it was tested on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

from em_monitor.config import MonitorConfig

__all__ = ["Sharding", "check_sharding", "prepare_generation", "rank_share", "rank_zero_passes"]

T = TypeVar("T")


@dataclass(frozen=True)
class Sharding:
    """How a training strategy shards the parameters, as far as the monitor's forward passes care."""

    #: The strategy's name, for messages.
    strategy: str
    #: The monitor's probe passes run on every rank under it (tested).
    collective_passes: bool = False


def rank_zero_passes(settings: MonitorConfig, sharding: Sharding | None) -> list[str]:
    """The parts of this config that would run forward passes on rank 0 alone under ``sharding``."""
    parts = []
    if sharding is None or not sharding.collective_passes:
        parts = [f"the `{source}` source" for source in settings.sources if source in ("prompts", "generations")]
    if settings.realign.dataset == "on_policy" and "realign" in settings.actions.on_warn + settings.actions.on_critical:
        parts.append("`realign.dataset: on_policy` (benign answers generated at start-up)")
    return parts


def check_sharding(passes: list[str], sharding: Sharding | None, who: str) -> None:
    """Refuse rank-0 forward passes under a strategy that shards parameters (None: not sharded)."""
    if sharding is None or not passes:
        return
    instead = "" if sharding.collective_passes else " (or train with FSDP2, Lightning's ModelParallelStrategy, where every rank joins the probe passes)"
    raise ValueError(
        f"{who}: {', '.join(passes)} run forward passes on rank 0 alone, which would hang a model sharded by {sharding.strategy} "
        "(every rank must join each forward). Use `sources: [train_batch]` (every rank scores its own batch from the training "
        f"forward), a realign dataset file instead of on_policy, and no behavioural check{instead}; or train with DDP."
    )


def rank_share(items: list[T], rank: int, world_size: int) -> tuple[list[T], int]:
    """This rank's contiguous share of ``items``, padded to the same length on every rank, and how many of it are real.

    Contiguous, so that the shares in rank order are ``items`` in order; padded (with ``items[0]``),
    so that every rank runs the same number of batches.
    """
    per_rank = -(-len(items) // world_size)
    mine = items[rank * per_rank : (rank + 1) * per_rank]
    return mine + [items[0]] * (per_rank - len(mine)), len(mine)


def prepare_generation(model: object) -> None:
    """Let ``model.generate`` run as one FSDP2 forward: the root's parameters are gathered once per call, not per token.

    What FSDP2 provides for methods other than ``forward`` (``register_fsdp_forward_method``).
    Registered once; a model that is not an FSDP2 module is left alone.
    """
    from torch.distributed.fsdp import FSDPModule, register_fsdp_forward_method

    if isinstance(model, FSDPModule) and not getattr(model, "_em_monitor_generate_registered", False):
        register_fsdp_forward_method(model, "generate")
        model._em_monitor_generate_registered = True
