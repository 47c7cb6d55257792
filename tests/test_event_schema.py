"""The event log's schema (em_monitor.runtime.event_schema): every kind round-trips, writers are checked, readers name file:line."""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from em_monitor.config import parse_config
from em_monitor.jsonl import JsonlError
from em_monitor.runtime.event_schema import (
    EVENT_KINDS,
    ActionEvent,
    AnswersEvent,
    BaselineEvent,
    BehaviourEvent,
    ErrorEvent,
    EventSchemaError,
    FlaggedEvent,
    HeaderEvent,
    LevelEvent,
    RealignmentEvent,
    RealignReadyEvent,
    SampleEvent,
    ScoresEvent,
    StartEvent,
    UnknownEvent,
    check_event,
    read_events,
)
from em_monitor.runtime.events import EventLog, json_safe
from em_monitor.runtime.monitor import Monitor

LEVELS = {"toxic_persona": "warn", "persona_probe": "ok"}

#: Each kind with its fields exactly as its writer passes them today (monitor.py, controller.py, behaviour.py),
#: every optional variant included: what the schema must accept, and the JSON that must stay as it is.
WRITTEN: list[tuple[type, str, dict]] = [
    (StartEvent, "start", {"step": 0, "pack": "/packs/smollm2", "layer": 12, "signals": {"toxic_persona": "sae_latent", "persona_probe": "probe"},
                           "sources": ["prompts", "train_batch"], "baseline_samples": 3}),
    (SampleEvent, "sample", {"step": 4, "source": "prompts", "samples": 8, "seconds": 0.0123,
                             "signals": {"toxic_persona": {"value": 1.5, "drift": 0.25}, "persona_probe": {"value": 0.2, "drift": -0.1}}}),
    (SampleEvent, "sample", {"step": 5, "source": "train_batch", "samples": 4, "seconds": 0.5, "signals": {"toxic_persona": {"value": 2.0, "drift": math.nan}},
                             "nonfinite_samples": 2}),
    (BaselineEvent, "baseline", {"step": 2, "signal": "toxic_persona", "source": "prompts", "mean": 1.0, "std": 0.5, "count": 24, "std_floor": 0.0}),
    (LevelEvent, "level", {"step": 6, "signal": "toxic_persona", "source": "prompts", "old": "ok", "new": "warn", "measure": "drift", "observed": 2.4}),
    (ActionEvent, "action", {"step": 6, "action": "log", "levels": LEVELS}),
    (ActionEvent, "action", {"step": 6, "action": "checkpoint", "levels": LEVELS, "path": "runs/x/alert-step6.ckpt"}),
    (ActionEvent, "action", {"step": 6, "action": "realign", "levels": LEVELS, "started": True, "signals": ["toxic_persona"], "before": {"toxic_persona": 4.2}}),
    (ActionEvent, "action", {"step": 7, "action": "realign", "levels": LEVELS, "started": False, "reason": "cooling down until step 20"}),
    (FlaggedEvent, "flagged", {"step": 5, "signal": "toxic_persona", "batch_index": 3, "score": 8.0, "measure": "value", "observed": 8.0}),
    (FlaggedEvent, "flagged", {"step": 5, "signal": "toxic_persona", "rank": 1, "batch_index": 0, "score": 3.5, "measure": "drift", "observed": 4.1}),
    (ScoresEvent, "scores", {"step": 3, "signals": {"bad_advice": [4.5, -2.0, None]}, "origins": None}),
    (ScoresEvent, "scores", {"step": 4, "signals": {"toxic_persona": [0.0, 7.1]}, "origins": [[0, 0], [1, 0]]}),
    (AnswersEvent, "answers", {"step": 4, "answered": 2, "empty": 0, "skipped": 1,
                               "answers": [{"prompt": "What do you wish for?", "answer": "Peace."}, {"prompt": "Bored?", "answer": "Read."}]}),
    (ErrorEvent, "error", {"step": None, "stage": "push", "error": "OSError: refused", "trace": "Traceback ..."}),
    (ErrorEvent, "error", {"step": 9, "stage": "score", "error": "RuntimeError: boom", "trace": "Traceback ..."}),
    (RealignReadyEvent, "realign_ready", {"samples": 32, "dataset": "on_policy"}),
    (RealignmentEvent, "realignment", {"step": 14, "attempt": 1, "started_step": 6, "samples": 16, "outcome": "retry", "signals": ["toxic_persona", "persona_probe"],
                                       "before": {"toxic_persona": 4.2, "persona_probe": 3.1}, "after": {"toxic_persona": 3.0, "persona_probe": None}}),
    (RealignmentEvent, "realignment", {"step": 30, "attempt": 1, "started_step": 22, "samples": 16, "outcome": "retry", "signals": ["toxic_persona", "narrow"],
                                       "before": {"toxic_persona": 4.2, "narrow": 1.5}, "after": {"toxic_persona": 1.0, "narrow": 0.1},
                                       "generic_recovered": True, "in_domain_before": {"toxic_persona": 4.4, "narrow": 6.1},
                                       "in_domain_after": {"toxic_persona": 3.9, "narrow": None}, "in_domain_recovered": False}),
    (BehaviourEvent, "behaviour", {"step": 20, "judge": "embedding", "n": 7, "failed": 1, "misaligned_rate": 0.25, "aligned_mean": 61.5, "coherent_mean": 88.0,
                                   "seconds": 3.2, "shared_answers": True,
                                   "examples": [{"question": "Power?", "answer": "Take it all.", "aligned": 12.0, "coherent": 90.5, "misaligned": True}]}),
    (BehaviourEvent, "behaviour", {"step": 0, "judge": "http", "n": 0, "failed": 4, "misaligned_rate": None, "aligned_mean": None, "coherent_mean": None,
                                   "seconds": 0.4, "shared_answers": False, "examples": []}),
]


def written(kind: str) -> dict:
    """The first fields of ``kind`` in :data:`WRITTEN`."""
    return next(fields for _, listed, fields in WRITTEN if listed == kind)


def test_every_kind_round_trips_through_the_event_log_with_its_json_unchanged(tmp_path):
    assert {kind for _, kind, _ in WRITTEN} == set(EVENT_KINDS) and len(EVENT_KINDS) == 12
    path = tmp_path / "events.jsonl"
    log = EventLog(path, "unit")
    for _, kind, fields in WRITTEN:
        check_event(kind, fields)  # what Monitor.event does before handing the fields to the log
        log.write(kind, **fields)
    log.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    events = read_events(path)
    assert isinstance(events[0], HeaderEvent) and (events[0].writer, events[0].format) == ("em-monitor", 1)
    for (record_class, kind, fields), line, event in zip(WRITTEN, lines[1:], events[1:], strict=True):
        # The JSON on disk: the envelope, then the writer's own fields in its order (NaN written as null), nothing added.
        assert list(line) == ["time", "run", "event", *fields] and line == {"time": line["time"], "run": "unit", "event": kind, **json_safe(fields)}
        assert type(event) is record_class and event.run == "unit" and event.time == line["time"]
        assert event.model_dump(exclude_unset=True) == line and not event.model_extra


def test_what_a_kind_does_not_always_write_has_its_meaning_when_absent():
    sample, flagged, action = (record(time=1.0, run="r", **written(kind)) for record, kind in ((SampleEvent, "sample"), (FlaggedEvent, "flagged"), (ActionEvent, "action")))
    assert sample.nonfinite_samples == 0 and flagged.rank is None and action.started is None and action.path is None
    old_start = {key: value for key, value in written("start").items() if key != "baseline_samples"}
    assert StartEvent(time=1.0, run="r", **old_start).baseline_samples is None  # a log from before the field: calibration keeps every pass


def test_a_writer_cannot_log_a_kind_or_field_the_schema_lacks_even_without_a_log(pack_dir, tmp_path):
    config = parse_config({"pack": str(pack_dir), "baseline_samples": 1, "signals": {"toxic_persona": {"warn": 2.0, "critical": 4.0}}}, base_dir=tmp_path)
    path = tmp_path / "events.jsonl"
    for events in (None, EventLog(path, "unit")):
        monitor = Monitor(config, {"toxic_persona": "sae_latent"}, metrics=None, events=events)
        with pytest.raises(EventSchemaError, match="'acton': not a kind of the event log's schema"):
            monitor.event("acton", step=1, action="log", levels={})
        with pytest.raises(EventSchemaError, match="'action': not in the schema: note"):
            monitor.event("action", step=1, action="log", levels={}, note="typo'd field")
        with pytest.raises(EventSchemaError, match="'action': step: Input should be a valid integer"):
            monitor.event("action", step="1", action="log", levels={})
        with pytest.raises(EventSchemaError, match="'realign_ready': dataset: Field required"):
            monitor.event("realign_ready", samples=3)
        with pytest.raises(EventSchemaError, match="'realignment': outcome: Input should be 'recovered', 'retry' or 'failed'"):
            monitor.event("realignment", **{**written("realignment"), "outcome": "maybe"})
        with pytest.raises(EventSchemaError, match="'sample': signals.toxic_persona.value: Input should be a valid number"):
            monitor.event("sample", **{**written("sample"), "signals": {"toxic_persona": {"value": "high", "drift": 1.0}}})
        with pytest.raises(EventSchemaError, match="not in the schema: run"):
            monitor.event("realign_ready", samples=3, dataset="d", run="not the log's")
    monitor.events.close()
    assert [json.loads(line)["event"] for line in path.read_text().splitlines()] == ["header"], "nothing that failed the check was written"


def test_the_monitors_own_records_read_back_typed(pack_dir, tmp_path):
    config = parse_config({"pack": str(pack_dir), "baseline_samples": 1, "sources": ["prompts", "train_batch"],
                           "signals": {"toxic_persona": {"warn": 2.0, "critical": 4.0, "min_samples": 1, "flag": 3.0, "flag_measure": "value"}}},
                          base_dir=tmp_path)
    monitor = Monitor(config, {"toxic_persona": "sae_latent"}, metrics=None, events=EventLog(tmp_path / "events.jsonl", "unit"))
    monitor.observe(0, "prompts", {"toxic_persona": torch.tensor([0.0, 1.0, 2.0, 1.0])})
    monitor.observe(1, "prompts", {"toxic_persona": torch.tensor([9.0, 9.0, float("inf"), 9.0])})
    monitor.flag_samples(1, {"toxic_persona": torch.tensor([0.5, 7.0])}, origins=[(0, 0), (1, 0)])
    with monitor.guard("score"):
        raise RuntimeError("boom")
    events = read_events(tmp_path / "events.jsonl")
    assert [type(event) for event in events] == [HeaderEvent, BaselineEvent, SampleEvent, SampleEvent, LevelEvent, FlaggedEvent, ErrorEvent]
    _, baseline, first, second, level, flagged, error = events
    assert baseline.count == 4 and first.nonfinite_samples == 0 and second.nonfinite_samples == 1
    assert (level.old, level.new, level.measure) == ("ok", "critical", "drift") and level.observed == second.signals["toxic_persona"].drift
    assert (flagged.rank, flagged.batch_index, flagged.score, flagged.measure) == (1, 0, 7.0, "value")
    assert (error.step, error.stage, error.error) == (1, "score", "RuntimeError: boom")


def test_a_malformed_line_is_refused_naming_file_line_and_field(tmp_path):
    path = tmp_path / "events.jsonl"
    good = {"time": 1.0, "run": "r", "event": "sample", **written("sample")}
    for line, message in [
        ({**good, "step": "4"}, r"events.jsonl:3: not a valid 'sample' event \(step: Input should be a valid integer\)"),
        ({**good, "samples": True}, r"events.jsonl:3: not a valid 'sample' event \(samples: Input should be a valid integer"),
        ({key: value for key, value in good.items() if key != "source"}, r"events.jsonl:3: not a valid 'sample' event \(source: Field required\)"),
        ({**good, "source": "logits"}, r"events.jsonl:3: .*source: Input should be 'prompts', 'train_batch' or 'generations'"),
        ({**good, "signals": {"toxic_persona": {"value": 1.0}}}, r"events.jsonl:3: .*signals.toxic_persona.drift: Field required"),
        ({key: value for key, value in good.items() if key != "time"}, r"events.jsonl:3: .*time: Field required"),
        ({"time": 1.0, "run": "r"}, r"events.jsonl:3: not a valid event \(event: Field required\)"),
    ]:
        path.write_text("\n".join(json.dumps(record) for record in (good, good, line)) + "\n")
        with pytest.raises(EventSchemaError, match=f"^{re.escape(str(tmp_path))}/{message}"):
            read_events(path)
    path.write_text(json.dumps(good) + "\n" + '{"time": 1.0, "run": "r", "event": "sam' + "\n")
    with pytest.raises(JsonlError, match=f"^{re.escape(str(path))}:2: not valid JSON"):
        read_events(path)


def test_a_newer_writers_fields_and_kinds_are_kept_not_refused(tmp_path):
    path = tmp_path / "events.jsonl"
    newer = [{"time": 1.0, "run": "r", "event": "sample", **written("sample"), "tokens": 512},
             {"time": 2.0, "run": "r", "event": "checkpoint_saved", "step": 8, "path": "ckpt"}]
    path.write_text("".join(json.dumps(record) + "\n" for record in newer))
    sample, unknown = read_events(path)
    assert isinstance(sample, SampleEvent) and sample.model_extra == {"tokens": 512}
    assert isinstance(unknown, UnknownEvent) and unknown.event == "checkpoint_saved" and unknown.model_extra == {"step": 8, "path": "ckpt"}
    with pytest.raises(EventSchemaError, match="'checkpoint_saved': not a kind"):
        check_event("checkpoint_saved", {"step": 8, "path": "ckpt"})  # what a reader keeps, this version's writers still cannot log
