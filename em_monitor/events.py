"""The event log: append-only JSONL, one line per sampling pass, level change, flag and action.

Append-only and flushed per line so that a run killed mid-training loses at most the line being
written, and a resumed run simply continues the same file.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

__all__ = ["EventLog"]

log = logging.getLogger("em_monitor")


def _json_safe(value: Any) -> Any:
    """NaN/inf are not JSON; write them as null so every line stays parseable."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(item) for item in value]
    return value


def _drop_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline: a run killed mid-write leaves one.

    Appending after it would glue the next event onto a fragment and lose both; cutting the
    fragment (an event that was never complete) keeps every line of the file parseable.
    """
    if not path.is_file() or path.stat().st_size == 0:
        return 0
    with path.open("rb+") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(size - 1, 0))
        if handle.read(1) == b"\n":
            return 0
        handle.seek(0)
        complete = handle.read().rfind(b"\n") + 1
        handle.truncate(complete)
        return size - complete


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
            #: Bytes of a half-written last line left by a killed run, dropped before appending (0 if none).
            self.torn_bytes = _drop_torn_tail(self.path)
            self._handle = self.path.open("a", encoding="utf-8")
            if self.torn_bytes:
                log.warning("em-monitor: %s ended in a half-written line (%d bytes, a killed run); dropped it and appending after it", self.path, self.torn_bytes)
        except OSError as error:
            # At start-up, before any step: a log that cannot be written is a config problem, not a mid-run fault.
            raise OSError(f"event_log: cannot append to {self.path} ({error.strerror or error}); point event_log at a writable file, or set it to null") from error

    def write(self, event: str, **fields: Any) -> None:
        record = {"time": round(time.time(), 3), "run": self.run, "event": event, **fields}
        self._handle.write(json.dumps(_json_safe(record), sort_keys=False) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()
