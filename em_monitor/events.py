"""The event log: append-only JSONL, one line per sampling pass, level change, flag and action.

Append-only and flushed per line so that a run killed mid-training loses at most the line being
written, and a resumed run simply continues the same file.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

__all__ = ["EventLog"]


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON; write them as null so every line stays parseable."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


class EventLog:
    """Writes one JSON object per event to ``path`` (parent directories are created).

    Example::

        log = EventLog("run/events.jsonl", run="demo")
        log.write("level", step=40, signal="toxic_persona", old="ok", new="critical")
        log.close()
    """

    def __init__(self, path: str | Path, run: str) -> None:
        self.path = Path(path)
        self.run = run
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = self.path.open("a", encoding="utf-8")
        except OSError as error:
            # At start-up, before any step: a log that cannot be written is a config problem, not a mid-run fault.
            raise OSError(f"event_log: cannot append to {self.path} ({error.strerror or error}); point event_log at a writable file, or set it to null") from error

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": round(time.time(), 3), "run": self.run, "event": event, **fields}
        self._handle.write(json.dumps(_json_safe(record), sort_keys=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
