"""An offline coherence *proxy*: is the answer on topic, and is it language rather than debris?

A real coherence judgement needs a capable reader (the HTTP judge asks an LLM). Offline we can
only measure two cheap things that break when a fine-tune breaks a model:

* **relevance** — cosine similarity of the question's and the answer's sentence embeddings,
  rescaled between a floor (what unrelated question–answer pairs score) and a ceiling (what
  real on-topic answers score); both are measured on the project's data when the embedding
  judge is trained, and stored with its weights;
* **degeneracy** — empty or near-empty answers, repeated word trigrams (a model stuck in a
  loop), and text that is mostly not words (byte soup from a broken or random model).

It cannot tell a fluent non-sequitur from a fluent answer, nor catch contradictions. That is why
it is called a proxy everywhere it is reported.
"""

from __future__ import annotations

import re

__all__ = ["MIN_WORDS", "degeneracy", "coherence_score"]

#: Answers with fewer words than this are too short to count as a coherent reply to an open question.
MIN_WORDS = 3
_WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
# Share of non-space characters inside words: English prose sits near 0.95, byte soup far lower.
_WORDLIKE_FLOOR, _WORDLIKE_FULL = 0.6, 0.85


def degeneracy(text: str) -> float:
    """How broken ``text`` looks, from 0 (fluent prose) to 1 (empty, a loop, or not words at all)."""
    words = _WORD.findall(text)
    if len(words) < MIN_WORDS:
        return 1.0
    lowered = [word.lower() for word in words]
    trigrams = list(zip(lowered, lowered[1:], lowered[2:]))
    repeated = 1.0 - len(set(trigrams)) / len(trigrams) if trigrams else 0.0
    visible = sum(1 for char in text if not char.isspace())
    wordlike = sum(len(word) for word in words) / max(visible, 1)
    not_words = 1.0 - _ramp(wordlike, _WORDLIKE_FLOOR, _WORDLIKE_FULL)
    return max(repeated, not_words)


def coherence_score(cosine: float, answer: str, *, floor: float, ceiling: float) -> float:
    """The 0–100 proxy: relevance (``cosine`` rescaled from ``floor`` to ``ceiling``) times (1 − degeneracy)."""
    if not floor < ceiling:
        raise ValueError(f"coherence_score: floor ({floor}) must be below ceiling ({ceiling})")
    return 100.0 * _ramp(cosine, floor, ceiling) * (1.0 - degeneracy(answer))


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below ``low``, 1 at or above ``high``, linear between."""
    return min(1.0, max(0.0, (value - low) / (high - low)))
