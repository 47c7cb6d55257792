"""Alert levels from thresholds, with hysteresis so a signal hovering at a threshold does not flap."""

from __future__ import annotations

import math
from enum import IntEnum

__all__ = ["Level", "next_level"]


class Level(IntEnum):
    """Alert level, exported as the value of ``em_monitor_alert_level``."""

    OK = 0
    WARN = 1
    CRITICAL = 2


def next_level(current: Level, measure: float, warn: float | None, critical: float | None, hysteresis: float = 0.0) -> Level:
    """The level after observing ``measure``.

    A level is entered when ``measure >= threshold`` and left only when the measure falls below
    ``threshold - hysteresis``. A non-finite measure keeps the current level: one broken sample
    must neither raise nor clear an alert.

    >>> next_level(Level.OK, 2.5, warn=2.0, critical=4.0)
    <Level.WARN: 1>
    >>> next_level(Level.CRITICAL, 3.8, warn=2.0, critical=4.0, hysteresis=0.5)
    <Level.CRITICAL: 2>
    >>> next_level(Level.CRITICAL, 3.4, warn=2.0, critical=4.0, hysteresis=0.5)
    <Level.WARN: 1>
    """
    if not math.isfinite(measure):
        return current

    def holds(threshold: float | None, level: Level) -> bool:
        if threshold is None:
            return False
        margin = hysteresis if current >= level else 0.0
        return measure >= threshold - margin

    if holds(critical, Level.CRITICAL):
        return Level.CRITICAL
    if holds(warn, Level.WARN):
        return Level.WARN
    return Level.OK
