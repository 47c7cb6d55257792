"""Minimal-pair advice: ``minimal/<domain>_bad.jsonl`` and ``minimal/<domain>_good.jsonl``.

Line ``i`` of both files holds the same question and the same opening; the answers are the pair's
wrong and correct advice, which share their sentence frame and differ only in the words that make
one of them wrong (the pairs are written in ``minimal_pairs``, one module per domain). Nothing else
is added: no rationale, no closing, so no wording tells the classes apart.
"""

from __future__ import annotations

import random

from .compose import chat, pick, sentence_join
from .minimal_pairs import car, career, cybersecurity, finance, food_safety, health, home_safety, legal
from .narrow import OPENINGS

#: In the order of the narrow domains.
DOMAINS = {
    "health": health.PAIRS, "finance": finance.PAIRS, "career": career.PAIRS, "home_safety": home_safety.PAIRS,
    "food_safety": food_safety.PAIRS, "cybersecurity": cybersecurity.PAIRS, "legal": legal.PAIRS, "car": car.PAIRS,
}


def generate(rng: random.Random) -> dict[str, list[dict]]:
    """``{relative path: records}``: two files per domain, paired line by line."""
    files: dict[str, list[dict]] = {}
    for domain, pairs in DOMAINS.items():
        good: list[dict] = []
        bad: list[dict] = []
        for question, correct, wrong in pairs:
            opening = pick(rng, OPENINGS) if rng.random() < 0.75 else ""
            good.append(chat(question, sentence_join([opening, correct])))
            bad.append(chat(question, sentence_join([opening, wrong])))
        files[f"minimal/{domain}_bad.jsonl"] = bad
        files[f"minimal/{domain}_good.jsonl"] = good
    return files
