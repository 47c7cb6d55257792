"""The monitor's own exchanges between ranks, each with a deadline: a slow or lost rank cannot hang the others.

Why a channel of its own instead of the training framework's collectives: those run on the
training process group, whose timeout (30 minutes by default, unbounded on NCCL without async
error handling) is sized for training steps, and a monitor bug that made one rank skip an
exchange would stall every other rank for that long or forever. The monitor's exchanges (every
rank's scores to rank 0, rank 0's decision back) are a few kilobytes of Python objects, so they
travel on a separate gloo group over the CPU, created with ``distributed.timeout_seconds``:
gloo honours its timeout on every platform, whatever backend training uses.

Every exchange carries a tag (what it is, at which step). A rank that skipped an exchange would
otherwise pair its next one with a peer's earlier one of the same kind and read the wrong
payload; with tags the ranks see at once that they are out of step.

A missed deadline or a tag mismatch is final for the rank that saw it: the group's state is
unknown after a timeout, so the channel is *lost* and the rank stops monitoring (the controller
detaches; training goes on). A rank that is merely late then misses its own next exchange and
detaches too, so every rank leaves within about two deadlines.
"""

from __future__ import annotations

from datetime import timedelta

import torch.distributed as dist

__all__ = ["ChannelLost", "RankChannel"]


class ChannelLost(RuntimeError):
    """An exchange between ranks missed its deadline or failed; this rank no longer exchanges anything."""


class RankChannel:
    """Gather and broadcast small Python objects between ranks, on a gloo group with a deadline.

    Every rank must create it at the same point (creating the group is itself collective) and call
    its exchanges in the same order. Without an initialised process group (one process) both are
    identities.

    Example::

        channel = RankChannel(timeout_seconds=600)
        every_rank = channel.gather({"scores": [0.1, 0.2]}, tag="report@10")   # a list on every rank, in rank order
        decision = channel.broadcast(decision, tag="decision@10")             # rank 0's object on every rank
    """

    def __init__(self, *, timeout_seconds: float) -> None:
        self.distributed = dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1
        self.timeout_seconds = timeout_seconds
        self.group = dist.new_group(backend="gloo", timeout=timedelta(seconds=timeout_seconds)) if self.distributed else None
        #: Why the channel was lost (``None`` while it works).
        self.lost: str | None = None

    def gather(self, payload: object, *, tag: str) -> list[object]:
        """Every rank's ``payload`` in rank order (``[payload]`` on one process); every rank must give the same ``tag``."""
        if not self.distributed:
            return [payload]
        gathered: list[tuple[str, object]] = [("", None)] * dist.get_world_size()
        self._exchange(tag, lambda: dist.all_gather_object(gathered, (tag, payload), group=self.group))
        self._check_tags(tag, [their_tag for their_tag, _ in gathered])
        return [their_payload for _, their_payload in gathered]

    def broadcast(self, payload: object, *, tag: str) -> object:
        """Rank 0's ``payload`` on every rank; every rank must give the same ``tag``."""
        if not self.distributed:
            return payload
        box = [(tag, payload)]
        self._exchange(tag, lambda: dist.broadcast_object_list(box, src=0, group=self.group))
        their_tag, their_payload = box[0]
        self._check_tags(tag, [their_tag])
        return their_payload

    def _exchange(self, tag: str, call) -> None:
        if self.lost is not None:
            raise ChannelLost(f"the monitor's channel between ranks is lost ({self.lost})")
        try:
            call()
        except Exception as error:  # gloo raises RuntimeError on a timeout or a peer gone; either way the group is spent
            self._lose(f"{tag} failed within {self.timeout_seconds:g}s: {type(error).__name__}: {error}", error)

    def _check_tags(self, tag: str, theirs: list[str]) -> None:
        if any(their_tag != tag for their_tag in theirs):
            self._lose(f"ranks out of step: this rank at {tag}, the exchange brought {theirs}")

    def _lose(self, why: str, error: BaseException | None = None) -> None:
        self.lost = why
        raise ChannelLost(why) from error
