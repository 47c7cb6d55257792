"""The event log: append-only JSONL, one line per sampling pass, level change, flag and action.

This module is how records reach the disk; what each kind of record holds is
:mod:`em_monitor.runtime.event_schema`, which the monitor checks every record against before writing it.

Three promises, each for a failure seen in the field:

- **It only appends to logs it created.** A new log starts with a header line
  (``{"event": "header", "writer": "em-monitor", ...}``); an existing file without one (a
  dataset, someone else's log) is refused at start-up instead of being appended to, or having
  its last line cut. A resumed run, or a second run pointed at the same log, continues it.
- **A killed run loses at most the line being written.** Each event is one ``write`` to a file
  opened for appending, with no buffer that could be flushed later; a half-written last line
  (killed mid-write) is cut when the log is next opened.
- **A full disk never reaches the training loop.** A failed write is undone (the file is cut
  back to where the event began, so no torn line stays in the middle), raised as ``OSError`` for
  the monitor to count, and closing never raises. The file is opened non-blocking, so a pipe
  whose reader stalls drops events instead of stalling training.
"""

from __future__ import annotations

import errno
import json
import logging
import math
import os
import threading
import time
from pathlib import Path
from typing import Any

from em_monitor.errors import InputError
from em_monitor.paths import Output, check_outputs

__all__ = ["HEADER_EVENT", "EventLog", "EventLogError", "check_event_log", "json_safe"]

log = logging.getLogger("em_monitor")

#: The kind of the first record of every log em-monitor creates; readers skip it like any kind they do not use.
HEADER_EVENT = "header"
_WRITER = "em-monitor"
_FORMAT = 1
#: How much of an existing file's first line is read to recognise a header.
_HEADER_PEEK = 65536


class EventLogError(InputError):
    """The event log cannot be used (a foreign file, an unwritable path); raised at start-up, naming ``event_log``."""


def json_safe(value: Any) -> Any:
    """NaN/inf are not JSON; write them as null so every line stays parseable (the schema's ``Measured`` fields allow it)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return value


def _is_ours(first_line: bytes) -> bool:
    """A log em-monitor wrote: its header, or (logs from before headers existed) a first `start` event."""
    try:
        record = json.loads(first_line)
    except ValueError:
        return False
    if not isinstance(record, dict):
        return False
    if record.get("event") == HEADER_EVENT:
        return record.get("writer") == _WRITER
    return record.get("event") == "start" and {"time", "run"} <= set(record)


def _check_ours(path: Path) -> None:
    with path.open("rb") as handle:
        first_line = handle.read(_HEADER_PEEK).split(b"\n", 1)[0]
    if not _is_ours(first_line):
        raise EventLogError(
            f"event_log: {path} exists and was not written by em-monitor (its first line is no em-monitor log header); "
            "the monitor only appends to logs it created: point event_log at a new file, or move that one away"
        )


def _drop_torn_tail(path: Path) -> int:
    """Cut a last line that has no newline: a run killed mid-write leaves one.

    Appending after it would glue the next event onto a fragment and lose both; cutting the
    fragment (an event that was never complete) keeps every line of the file parseable.
    """
    with path.open("rb+") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(size - 1, 0))
        if handle.read(1) == b"\n":
            return 0
        handle.seek(0)
        complete = handle.read().rfind(b"\n") + 1
        handle.truncate(complete)
        return size - complete


def check_event_log(path: str | Path) -> None:
    """What opening the log at start-up would refuse, found without creating it (for ``check-config``)."""
    path = Path(path)
    if path.is_dir():
        raise EventLogError(f"event_log: {path} is a folder; give the path of a file")
    if path.exists() and not path.is_file():
        return  # a device or a pipe, such as /dev/stderr: opened as it is, non-blocking
    if path.is_file() and path.stat().st_size > 0:
        _check_ours(path)
    check_outputs([Output("event_log", path)], [])


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
        #: Bytes of a half-written last line left by a killed run, dropped before appending (0 if none).
        self.torn_bytes = 0
        # Writers on other threads (the Pushgateway's failures) must not interleave with the cut-back of a failed write.
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            regular = self.path.is_file()
            if regular and self.path.stat().st_size > 0:
                _check_ours(self.path)
                self.torn_bytes = _drop_torn_tail(self.path)
            # Non-blocking: on a pipe or device a write that would wait fails instead (and is counted).
            self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NONBLOCK, 0o644)
            self._regular = os.path.isfile(self.path)
            if self._regular and os.fstat(self._fd).st_size == 0:
                self.write(HEADER_EVENT, writer=_WRITER, format=_FORMAT)
        except OSError as error:
            # At start-up, before any step: a log that cannot be written is a config problem, not a mid-run fault.
            raise EventLogError(f"event_log: cannot append to {self.path} ({error.strerror or error}); point event_log at a writable file, or set it to null") from error
        if self.torn_bytes:
            log.warning("em-monitor: %s ended in a half-written line (%d bytes, a killed run); dropped it and appending after it", self.path, self.torn_bytes)

    def write(self, event: str, **fields: Any) -> None:
        """Append one event; on failure the file is left as it was and ``OSError`` is raised for the caller to count."""
        record = {"time": round(time.time(), 3), "run": self.run, "event": event, **fields}
        data = (json.dumps(json_safe(record), sort_keys=False) + "\n").encode("utf-8")
        with self._lock:
            self._append(data)

    def _append(self, data: bytes) -> None:
        if self._fd is None:
            raise OSError(errno.EBADF, f"event log {self.path} is closed")
        start = os.fstat(self._fd).st_size if self._regular else 0
        written = 0
        try:
            while written < len(data):
                count = os.write(self._fd, data[written:])
                if count <= 0:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                written += count
        except OSError:
            if written and self._regular:
                # A short write (disk filled mid-line): cut the fragment so the next event starts a clean line.
                os.ftruncate(self._fd, start)
            raise

    @property
    def closed(self) -> bool:
        return self._fd is None

    def close(self) -> None:
        """Close the file; never raises (there is no buffer left to lose, and training must end cleanly)."""
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            os.close(fd)
        except OSError as error:
            log.warning("em-monitor: closing the event log %s failed: %s", self.path, error)
