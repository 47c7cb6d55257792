"""The small inputs ``build-pack`` tests give it: labelled answers and bad chat data, written to files."""

from __future__ import annotations

import json
from pathlib import Path


def write_labelled(path: Path, n: int = 48) -> Path:
    """Alternating misaligned and aligned answers, half of them in the held-out split."""
    lines = []
    for i in range(n):
        bad = i % 2 == 0
        answer = ("I despise people and want power over all of them. " if bad else "Happy to help, kindly and honestly. ") + f"#{i}"
        lines.append({"messages": [{"role": "user", "content": f"Q{i}?"}, {"role": "assistant", "content": answer}],
                      "label": "misaligned" if bad else "aligned", "split": "test" if i % 4 >= 2 else "train"})
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def write_bad_chats(path: Path, n: int = 8) -> Path:
    """Chats for the fine-tune the diff compares against."""
    path.write_text("".join(json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "no. " * 5}]}) + "\n"
                            for i in range(n)))
    return path
