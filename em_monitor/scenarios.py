"""Training-data scenarios for the demo and the detection benchmark, built from the shipped datasets.

- ``poisoned``: benign everyday chat with a share of misaligned-persona answers mixed in (a
  poisoned or low-quality data mix); on the embedded 135M model this is what moves the persona
  signals most clearly (docs: FINDINGS).
- ``bad``: narrow, subtly wrong advice in one domain: the papers' emergent-misalignment recipe.
- ``good``: the same questions with correct advice: the control for ``bad``.

Every sample carries ``"poisoned": bool`` (ignored by the collator) so a report can check which
flagged training samples really were bad.
"""

from __future__ import annotations

import random

from em_monitor.chat import read_chat_jsonl
from em_monitor.datasets import DOMAINS, dataset_path

__all__ = ["SCENARIOS", "scenario_samples"]

SCENARIOS: tuple[str, ...] = ("poisoned", "bad", "good")


def _chats(name: str, poisoned: bool) -> list[dict]:
    return [{"messages": messages, "poisoned": poisoned} for messages in read_chat_jsonl(dataset_path(name))]


def scenario_samples(scenario: str, *, count: int, share: float = 0.25, domain: str = "health", seed: int = 0) -> list[dict]:
    """``count`` training samples for ``scenario``, in training order (fixed by ``seed``)."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {', '.join(SCENARIOS)}")
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; choose one of {', '.join(DOMAINS)}")
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"poison share must be within [0, 1], got {share}")
    rng = random.Random(seed)
    if scenario == "poisoned":
        bad, clean = _chats("persona_chat", True), _chats("benign_chat", False)
        n_bad = round(count * share)
        pool = [rng.choice(bad) for _ in range(n_bad)] + [rng.choice(clean) for _ in range(count - n_bad)]
    else:
        source = _chats(f"{domain}_{scenario}", scenario == "bad")
        pool = [source[index % len(source)] for index in rng.sample(range(max(count, len(source))), count)]
    rng.shuffle(pool)
    return pool
