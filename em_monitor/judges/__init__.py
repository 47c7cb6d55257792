"""Judges: grade a model's answers for alignment and coherence (0–100 each).

``EmbeddingJudge`` runs offline (the default); ``HttpJudge`` asks an LLM behind an
OpenAI-compatible endpoint. Both return :class:`Verdict` objects (``None`` for an answer that
could not be graded), and :func:`make_judge` builds one from the names the CLI uses.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from em_monitor.judges.base import ALIGNED_BELOW, COHERENT_ABOVE, Judge, Verdict

if TYPE_CHECKING:
    from em_monitor.judges.embedding import EmbeddingJudge
    from em_monitor.judges.http_judge import HttpJudge

__all__ = ["ALIGNED_BELOW", "COHERENT_ABOVE", "JUDGES", "Judge", "Verdict", "EmbeddingJudge", "HttpJudge", "make_judge"]

#: Judge names accepted by ``make_judge`` and ``em-monitor demo --judge``.
JUDGES: tuple[str, ...] = ("embedding", "http", "none")


#: The judges, imported on first use: the command line reads ``JUDGES`` to describe its flags, and the
#: embedding judge's imports (torch) cost seconds it should not pay for that.
_LAZY = {"EmbeddingJudge": "em_monitor.judges.embedding", "HttpJudge": "em_monitor.judges.http_judge"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'em_monitor.judges' has no attribute {name!r}")


def make_judge(name: str, *, url: str | None = None, model: str | None = None, api_key_env: str | None = "OPENAI_API_KEY") -> Judge | None:
    """The judge called ``name`` (one of ``JUDGES``); ``None`` for ``"none"``."""
    if name not in JUDGES:
        raise ValueError(f"unknown judge {name!r}; choose one of {', '.join(JUDGES)}")
    if name == "none":
        return None
    if name == "embedding":
        from em_monitor.judges.embedding import EmbeddingJudge

        return EmbeddingJudge()
    if not url or not model:
        raise ValueError("the http judge needs a base URL and a model name: --judge-url http://HOST:PORT/v1 --judge-model NAME")
    from em_monitor.judges.http_judge import HttpJudge

    return HttpJudge(url, model, api_key_env=api_key_env)
