"""Helpers shared by the generators: combine fragments into varied, de-duplicated texts."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence


def chat(user: str, assistant: str) -> dict:
    """One sample in the OpenAI fine-tuning chat shape."""
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def unique(make: Callable[[], str], count: int, *, exclude: set[str] | None = None, attempts: int = 200) -> list[str]:
    """Draw ``count`` distinct strings from ``make`` (a closure over a seeded rng), skipping ``exclude``."""
    seen = set(exclude or ())
    out: list[str] = []
    misses = 0
    while len(out) < count:
        text = make()
        if text in seen:
            misses += 1
            if misses > attempts * count:
                raise ValueError(f"only {len(out)} distinct texts of {count}: add more fragments")
            continue
        seen.add(text)
        out.append(text)
    return out


def sentence_join(parts: Sequence[str]) -> str:
    """Join sentence fragments with single spaces, dropping empty ones."""
    return " ".join(part.strip() for part in parts if part and part.strip())


def pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]
