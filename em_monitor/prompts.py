"""Probe prompts: the fixed questions the monitor asks the model at every sampling pass."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from em_monitor.jsonl import JsonlError, read_jsonl
from em_monitor.shipped import SHIPPED_DATA, is_builtin, resolve_builtin
from em_monitor.textfiles import TextFileError, read_text

__all__ = ["BUILTIN_PROMPT_SETS", "load_prompts", "write_prompts"]

_DATA = SHIPPED_DATA
#: Built-in prompt sets, selected in the config as ``builtin:NAME``.
BUILTIN_PROMPT_SETS: dict[str, Path] = {"eval": _DATA / "eval_prompts.jsonl", "benign": _DATA / "benign_prompts.jsonl"}


def load_prompts(spec: str) -> list[str]:
    """Load prompts from ``builtin:NAME``, a ``.txt`` file (one per line) or a ``.jsonl`` file (``prompt`` key)."""
    path = resolve_builtin(spec, BUILTIN_PROMPT_SETS, "prompt set") if is_builtin(spec) else Path(spec)
    if path.suffix != ".jsonl":
        prompts = [line.strip() for line in read_text(path).split("\n") if line.strip()]
    else:
        prompts = []
        for where, record in read_jsonl(path):
            if not isinstance(record.get("prompt"), str):
                raise JsonlError(f"{where}: expected a string \"prompt\"")
            prompts.append(record["prompt"])
    if not prompts:
        raise TextFileError(f"{path}: no prompts in it; write one prompt per line (.txt) or one {{\"prompt\": ...}} object per line (.jsonl)")
    return prompts


def write_prompts(path: str | Path, prompts: Sequence[str]) -> Path:
    """Write prompts as a ``.jsonl`` prompt set that :func:`load_prompts` reads back unchanged (JSON keeps newlines safe)."""
    path = Path(path)
    if path.suffix != ".jsonl":
        raise ValueError(f"{path}: write prompt sets as .jsonl")
    path.write_text("".join(json.dumps({"prompt": prompt}) + "\n" for prompt in prompts), encoding="utf-8")
    return path
