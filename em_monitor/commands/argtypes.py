"""Number types for command-line flags: a bad number stops at the parser with the flag named.

Why not plain ``type=int``: ``--batch-size 0``, ``--lr nan`` or ``--steps 10000000000000000000000``
parse as numbers and then fail deep inside the work (a zero range step, a NaN loss, an allocator),
as a traceback or not at all. argparse reports these errors as ``argument --flag: ...``.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

__all__ = ["count", "fraction", "index", "non_negative", "number", "port", "positive"]

#: Bound of any number flag: far above real use, low enough to stop typos of exponent size.
_LIMIT = 1_000_000_000


def _whole(minimum: int, maximum: int = _LIMIT) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if not minimum <= value <= maximum:
            raise argparse.ArgumentTypeError(f"must be between {minimum} and {maximum:,}, got {value}")
        return value

    return parse


def _real(minimum: float | None = None, maximum: float | None = None, *, above: float | None = None) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not math.isfinite(value) or abs(value) > _LIMIT:
            raise argparse.ArgumentTypeError(f"must be a finite number within ±{_LIMIT:.0e}, got {text!r}")
        if above is not None and not value > above:
            raise argparse.ArgumentTypeError(f"must be above {above:g}, got {value:g}")
        if minimum is not None and value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum:g}, got {value:g}")
        if maximum is not None and value > maximum:
            raise argparse.ArgumentTypeError(f"must be at most {maximum:g}, got {value:g}")
        return value

    return parse


#: Sizes and counts: at least 1.
count = _whole(1)
#: Layers, seeds, optional counts: at least 0.
index = _whole(0)
#: A TCP port; 0 picks a free one.
port = _whole(0, 65535)
#: Any finite number (z-scores, margins, steering coefficients).
number = _real()
#: Rates, budgets, regularisation strengths: finite and above 0.
positive = _real(above=0.0)
#: Sizes where 0 means "no limit".
non_negative = _real(0.0)
#: Shares and AUROCs: between 0 and 1.
fraction = _real(0.0, 1.0)
