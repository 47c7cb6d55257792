"""Benign-data realignment: the state machine behind the ``realign`` action.

When a signal goes critical the adapter starts a realignment: the next training steps train on
benign samples instead of the user's batch (through the normal training step, so the strategy's
gradient sync, precision and accumulation stay intact), until ``samples`` benign samples have
been trained on. Then the signals are measured again: under their warn threshold means
recovered; otherwise another attempt runs, up to ``max_attempts``, and then the fallback
actions. A cooldown after each realignment keeps a signal hovering at the threshold from
starting one realignment after another.

This module holds only the decisions and the data cursor; no training framework.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal

from em_monitor.config import RealignConfig, SequentialRule, SignalRule

__all__ = ["Attempt", "Outcome", "Realigner", "BenignCursor", "recovery_threshold"]

Outcome = Literal["recovered", "retry", "failed"]


def recovery_threshold(rule: SignalRule | SequentialRule) -> float | None:
    """The measure a rule must fall under to count as recovered.

    A signal rule: its warn threshold, else critical. A sequential rule: its reference value,
    compared with the latest pass's combined statistic (a pass under it adds no evidence).
    """
    if isinstance(rule, SequentialRule):
        return rule.reference
    return rule.warn if rule.warn is not None else rule.critical


@dataclass
class Attempt:
    """The realignment in progress."""

    attempt: int
    started_step: int
    signals: list[str]
    before: dict[str, float]
    samples_done: int = 0
    #: The same rules on the in-domain prompts when the realignment started (``realign.in_domain_prompts``):
    #: how far the training framing had moved, to read ``in_domain_after`` against.
    in_domain_before: dict[str, float] | None = None


@dataclass
class Realigner:
    """Decides when realignment runs, counts its samples and judges its outcome.

    Example::

        realigner = Realigner(config.realign, config.signals)
        realigner.start(step=40, signals=["toxic_persona"], before={"toxic_persona": 5.1})
        realigner.consume(8)              # a benign batch of 8 was trained on
        realigner.check_due               # True once `samples` benign samples went through
        realigner.finish(step=48, after={"toxic_persona": 1.2})  # -> "recovered"
    """

    config: RealignConfig
    #: Signal rules and sequential rules, by name (names are distinct: the config checks it).
    rules: Mapping[str, SignalRule | SequentialRule]
    active: Attempt | None = None
    cooldown_until: int = -1
    history: list[dict] = field(default_factory=list)

    def can_start(self, step: int) -> bool:
        return self.active is None and step >= self.cooldown_until

    def start(self, step: int, signals: Sequence[str], before: Mapping[str, float], in_domain_before: Mapping[str, float] | None = None) -> Attempt:
        if not self.can_start(step):
            raise RuntimeError("a realignment is already running or cooling down")
        self.active = Attempt(1, step, list(signals), dict(before), in_domain_before=None if in_domain_before is None else dict(in_domain_before))
        return self.active

    def consume(self, samples: int) -> None:
        """Count benign samples trained on in the current attempt."""
        if self.active is not None:
            self.active.samples_done += samples

    @property
    def check_due(self) -> bool:
        """Enough benign samples went through: measure the signals again."""
        return self.active is not None and self.active.samples_done >= self.config.samples

    @property
    def training_on_benign(self) -> bool:
        """The next training batch should be benign."""
        return self.active is not None and not self.check_due

    def recovered(self, after: Mapping[str, float]) -> bool:
        """Every triggering signal's measure is under its recovery threshold (a missing measure is not)."""
        for signal in self.active.signals:
            threshold = recovery_threshold(self.rules[signal])
            value = after.get(signal)
            if value is None or threshold is None or not value < threshold:
                return False
        return True

    def finish(self, step: int, after: Mapping[str, float], in_domain: Mapping[str, float] | None = None) -> Outcome:
        """Judge the attempt that just completed; start the next attempt or end the realignment.

        ``in_domain``: the same rules measured on prompts framed like the training data, when
        ``realign.in_domain_prompts`` is set; the attempt then recovers only if both are back.
        """
        attempt = self.active
        generic = self.recovered(after)
        in_domain_recovered = None if in_domain is None else self.recovered(in_domain)
        recovered = generic and in_domain_recovered is not False
        outcome: Outcome = "recovered" if recovered else ("retry" if attempt.attempt < self.config.max_attempts else "failed")
        record = {
            "step": step, "attempt": attempt.attempt, "started_step": attempt.started_step, "samples": attempt.samples_done,
            "outcome": outcome, "signals": list(attempt.signals), "before": dict(attempt.before), "after": {s: after.get(s) for s in attempt.signals},
        }
        if in_domain is not None:
            in_domain_before = attempt.in_domain_before or {}
            record.update(generic_recovered=generic, in_domain_before={s: in_domain_before.get(s) for s in attempt.signals},
                          in_domain_after={s: in_domain.get(s) for s in attempt.signals}, in_domain_recovered=in_domain_recovered)
        self.history.append(record)
        if outcome == "retry":
            self.active = Attempt(attempt.attempt + 1, step, attempt.signals, attempt.before, in_domain_before=attempt.in_domain_before)
        else:
            self.active = None
            self.cooldown_until = step + self.config.cooldown_steps
        return outcome

    def state_dict(self) -> dict:
        return {"active": asdict(self.active) if self.active else None, "cooldown_until": self.cooldown_until, "history": list(self.history)}

    def load_state_dict(self, state: Mapping) -> None:
        self.active = Attempt(**state["active"]) if state["active"] else None
        self.cooldown_until = int(state["cooldown_until"])
        self.history = list(state["history"])


@dataclass
class BenignCursor:
    """Hands out benign samples in a fixed cycle; every rank takes its own slice of each global batch.

    Deterministic and resumable (the position is part of the state), so a resumed run and every
    rank of a DDP run agree on which samples were used.
    """

    samples: list
    position: int = 0

    def take(self, per_rank: int, *, rank: int = 0, world_size: int = 1) -> list:
        if not self.samples:
            raise ValueError("no benign samples to realign with")
        start = self.position + rank * per_rank
        chosen = [self.samples[(start + offset) % len(self.samples)] for offset in range(per_rank)]
        self.position += per_rank * world_size
        return chosen
