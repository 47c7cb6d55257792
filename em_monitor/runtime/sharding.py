"""What the monitor refuses under sharded training, until its rank-0 passes become collective (issue 19).

Under FSDP, FSDP2/``ModelParallelStrategy`` and DeepSpeed ZeRO-3 every rank holds a shard of the
parameters and every forward pass is a collective: all ranks must run it. The ``prompts`` and
``generations`` sources, on-policy benign data and the behavioural check run forward passes on
rank 0 alone, so there rank 0 would wait forever for shards the other ranks never send: the
monitor would hang the run it watches. Such setups are refused at start-up, naming what runs and
what to change. The ``train_batch`` source is safe everywhere: every rank scores its own batch
from the training forward itself. DDP and ZeRO-2 keep whole parameters on every rank, so a
rank-0 forward is fine there.
"""

from __future__ import annotations

from em_monitor.config import MonitorConfig

__all__ = ["check_not_sharded", "rank_zero_passes"]


def rank_zero_passes(settings: MonitorConfig) -> list[str]:
    """The parts of this config that run forward passes on rank 0 alone."""
    parts = [f"the `{source}` source" for source in settings.sources if source in ("prompts", "generations")]
    if settings.realign.dataset == "on_policy" and "realign" in settings.actions.on_warn + settings.actions.on_critical:
        parts.append("`realign.dataset: on_policy` (benign answers generated at start-up)")
    return parts


def check_not_sharded(passes: list[str], sharded_by: str | None, who: str) -> None:
    """Refuse rank-0 forward passes under a strategy that shards parameters (``sharded_by`` names it; None: not sharded)."""
    if sharded_by is None or not passes:
        return
    raise ValueError(
        f"{who}: {', '.join(passes)} run forward passes on rank 0 alone, which would hang a model sharded by {sharded_by} "
        "(every rank must join each forward). Use `sources: [train_batch]` (every rank scores its own batch from the training "
        "forward), a realign dataset file instead of on_policy, and no behavioural check; or train with DDP."
    )
