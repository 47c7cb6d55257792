"""The event log's ownership and no-stall promises (the kill, full-disk and foreign-file cases are in test_fault_injection)."""

from __future__ import annotations

import json
import os
import time

import pytest

from em_monitor.runtime.events import (
    HEADER_EVENT,
    EventLog,
    EventLogError,
    check_event_log,
)


def lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_a_new_log_starts_with_a_header_and_a_second_run_continues_it(tmp_path):
    path = tmp_path / "events.jsonl"
    for run in ("first", "second"):
        log = EventLog(path, run)
        log.write("start", step=0)
        log.close()
    events = lines(path)
    assert [e["event"] for e in events] == [HEADER_EVENT, "start", "start"] and events[0]["writer"] == "em-monitor"
    check_event_log(path)  # ours: accepted


def test_a_log_from_before_headers_is_still_continued(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps({"time": 1.0, "run": "old", "event": "start", "step": 0}) + "\n")
    log = EventLog(path, "new")
    log.write("start", step=5)
    log.close()
    assert [e["run"] for e in lines(path)] == ["old", "new"]


@pytest.mark.parametrize("first_line", ['{"messages": []}', '{"event": "header", "writer": "someone-else"}', "not json", "[1, 2]"])
def test_a_file_it_did_not_write_is_refused_and_left_alone(tmp_path, first_line):
    path = tmp_path / "events.jsonl"
    path.write_text(first_line)  # no final newline: the torn-tail repair must not touch it either
    with pytest.raises(EventLogError, match="was not written by em-monitor"):
        EventLog(path, "run")
    with pytest.raises(EventLogError):
        check_event_log(path)
    assert path.read_text() == first_line


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(EventLogError, match="folder"):
        check_event_log(tmp_path)
    with pytest.raises(EventLogError, match="event_log: cannot append"):
        EventLog(tmp_path, "run")


def test_a_pipe_nobody_reads_fails_at_start_instead_of_blocking(tmp_path):
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    started = time.perf_counter()
    with pytest.raises(EventLogError, match="cannot append"):
        EventLog(fifo, "run")  # a blocking open would wait for a reader forever
    assert time.perf_counter() - started < 5


def test_a_pipe_whose_reader_stalls_drops_events_instead_of_stalling_training(tmp_path):
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # opened, never read: the pipe fills up
    try:
        log = EventLog(fifo, "run")
        failures, started = 0, time.perf_counter()
        for step in range(5000):
            try:
                log.write("sample", step=step, padding="x" * 200)
            except OSError:
                failures += 1
        log.close()
        assert failures > 0, "a full pipe makes writes fail (and the monitor count them)"
        assert time.perf_counter() - started < 10, "and never blocks"
    finally:
        os.close(reader)
