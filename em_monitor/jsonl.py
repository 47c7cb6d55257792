"""Read JSONL files so that every error names the file and the line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from em_monitor.errors import InputError
from em_monitor.textfiles import read_text

__all__ = ["JsonlError", "loads_strict", "read_jsonl"]


class JsonlError(InputError):
    """A JSONL file has a malformed line; the message starts with ``path:line``."""


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def loads_strict(text: str) -> object:
    """``json.loads`` without Python's extensions: NaN and Infinity (not JSON) poison any score, label or size they reach."""
    return json.loads(text, parse_constant=_refuse_constant)


def read_jsonl(path: str | Path) -> Iterator[tuple[str, dict]]:
    """Yield ``("path:line", object)`` for each non-blank line; raise :class:`JsonlError` on bad lines.

    The whole file is read and decoded first, so a file that is not UTF-8 fails before any line is used.
    """
    path = Path(path)
    # Split on "\n" only: str.splitlines() would also cut at U+2028 and other characters JSON strings may hold raw.
    for number, line in enumerate(read_text(path).split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            record = loads_strict(line)
        except json.JSONDecodeError as error:
            raise JsonlError(f"{where}: not valid JSON ({error.msg} at column {error.colno})") from None
        except ValueError as error:
            raise JsonlError(f"{where}: not valid JSON ({error})") from None
        except RecursionError:
            raise JsonlError(f"{where}: nested too deeply") from None
        if not isinstance(record, dict):
            raise JsonlError(f"{where}: expected a JSON object, got {type(record).__name__}")
        yield where, record
