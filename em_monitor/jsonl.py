"""Read JSONL files so that every error names the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

__all__ = ["JsonlError", "read_jsonl"]


class JsonlError(ValueError):
    """A JSONL file has a malformed line; the message starts with ``path:line``."""


def read_jsonl(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``("path:line", object)`` for each non-blank line; raise :class:`JsonlError` on bad lines."""
    path = Path(path)
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise JsonlError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from None
            if not isinstance(record, dict):
                raise JsonlError(f"{where}: expected a JSON object, got {type(record).__name__}")
            yield where, record
