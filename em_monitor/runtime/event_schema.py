"""The event log's schema: one typed record per event kind, checked when written and when read.

Every line of ``events.jsonl`` is a JSON object stamped by :class:`~em_monitor.runtime.events.EventLog`
with ``time`` and ``run``, named by ``event``: the ``header`` line, then the twelve kinds the
monitor writes (``start``, ``sample``, ``baseline``, ``level``, ``action``, ``flagged``,
``scores``, ``answers``, ``error``, ``realign_ready``, ``realignment``, ``behaviour``). This module is the
reference for what each holds. Why one: the writers (the monitor, the controller, the
behavioural check) and the readers (the report, calibration, the demo, the benchmarks) used to
agree only by string keys, so a renamed field broke a reader silently, at the end of a run.

- **Written:** :meth:`Monitor.event <em_monitor.runtime.monitor.Monitor.event>` checks every record with
  :func:`check_event` before it reaches the log: a kind the schema lacks, a field it does not
  declare, a missing or mistyped one raises :class:`EventSchemaError` at the call that made it.
  What is written is still the caller's own fields, so the JSON on disk is what it always was.
- **Read:** :func:`read_events` (or :func:`parse_event` for one record) returns typed records,
  and names ``file:line`` and the field of a record that does not fit.

Why pydantic models and not frozen dataclasses: a dataclass checks nothing, so a reader would
still learn of a mistyped field only when it used it; pydantic (already what the config is
checked with) validates nested fields strictly (no ``"5"`` for a step, no ``true`` for a count),
says which field failed, and picks the record class from ``event`` in one declaration. The
records are frozen: a reader cannot edit the log it was given.

What the schema tolerates, and why:

- **Unknown fields are kept on read, refused on write.** A newer writer may add a field; an
  older reader keeps it (``record.model_extra``) and goes on, so ``calibrate`` can read a log
  from a later version. A writer of this version may not invent one: it would be a field no
  reader here knows.
- **Unknown kinds are read as** :class:`UnknownEvent` (its envelope checked, the rest kept) for
  the same reason, and readers skip them like any kind they do not use; writers cannot emit them.
- **Fields a version did not yet write are optional** only where a reader relies on logs without
  them (``start.baseline_samples``); every other field has been written since the event existed.
- **Measurements may be null.** JSON has no NaN or infinity; the event log writes them as
  ``null`` (:func:`~em_monitor.runtime.events.json_safe`), so a computed measurement is ``float | None``
  (:data:`Measured`). :func:`check_event` checks the fields as they will be written, after that
  conversion, so everything written reads back.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Tag,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    create_model,
    model_validator,
)

from em_monitor.config import Action, Source
from em_monitor.errors import InputError
from em_monitor.jsonl import read_jsonl
from em_monitor.runtime.events import HEADER_EVENT, json_safe
from em_monitor.runtime.realign import Outcome

__all__ = [
    "EVENT_KINDS", "ActionEvent", "AnsweredPrompt", "AnswersEvent", "BaselineEvent", "BehaviourEvent", "ErrorEvent", "Event", "EventRecord",
    "EventSchemaError", "FlaggedEvent", "HeaderEvent", "JudgedAnswer", "LevelEvent", "LevelName", "Measure", "Measured", "RealignReadyEvent",
    "RealignmentEvent", "SampleEvent", "ScoresEvent", "SequentialFigures", "SignalFigures", "StartEvent", "UnknownEvent", "check_event", "parse_event", "read_events",
]

#: A computed number: ``None`` where it was NaN or infinite (JSON cannot hold those; the log writes null).
Measured = float | None
#: An alert level as events name it (``Level.name.lower()``).
LevelName = Literal["ok", "warn", "critical"]
#: What a rule compares with its thresholds (``cusum``: a sequential rule's statistic, see ``runtime/sequential.py``).
Measure = Literal["value", "drift", "cusum"]
#: ``validate_python`` context that marks a record about to be written (unknown fields refused).
_WRITING = {"writing": True}


class EventSchemaError(InputError):
    """A record does not fit the event log's schema; the message names where (``file:line``, or the writer's event) and the field."""


class _Record(BaseModel):
    """Strict, frozen, and keeping unknown fields, except in a record being written (see the module docstring)."""

    model_config = ConfigDict(strict=True, frozen=True, extra="allow")

    @model_validator(mode="after")
    def _declared_fields_only_when_written(self, info: ValidationInfo) -> Self:
        if info.context and info.context.get("writing") and self.model_extra:
            raise ValueError(f"not in the schema: {', '.join(sorted(self.model_extra))}")
        return self


class EventRecord(_Record):
    """What every line has: ``time`` (Unix seconds, to the millisecond) and ``run`` are stamped by the event log itself."""

    time: float
    run: str
    event: str


class HeaderEvent(EventRecord):
    """The first line of a log em-monitor created: who wrote it, in which format (see ``events.py``)."""

    event: Literal["header"] = "header"
    writer: str
    format: int


class StartEvent(EventRecord):
    """A run (or a resumed run) began monitoring at ``step``."""

    event: Literal["start"] = "start"
    step: int
    pack: str
    layer: int
    #: Signal name → its kind (``direction``, ``probe``, ...).
    signals: dict[str, str]
    sources: list[Source]
    #: Passes per source that build the baseline; absent in logs written before it was logged (calibration then keeps every pass).
    baseline_samples: int | None = None


class SignalFigures(_Record):
    """One signal in one sampling pass: the mean over the pass's samples, and its drift from the baseline (in baseline stds)."""

    value: Measured
    drift: Measured


class SequentialFigures(_Record):
    """A sequential rule after one pass: the pass's combined statistic ``z``, and the CUSUM it brought the rule to."""

    z: float
    statistic: float


class SampleEvent(EventRecord):
    """One sampling pass of a source."""

    event: Literal["sample"] = "sample"
    step: int
    source: Source
    samples: int
    seconds: float
    signals: dict[str, SignalFigures]
    #: Samples whose activations were NaN/inf, skipped; written only when some were (absent reads as 0).
    nonfinite_samples: int = 0
    #: Sequential rules this pass fed, by rule name; written only when some were.
    sequential: dict[str, SequentialFigures] = {}


class BaselineEvent(EventRecord):
    """A (signal, source) baseline is complete: what every later drift of that series divides by."""

    event: Literal["baseline"] = "baseline"
    step: int
    signal: str
    source: Source
    mean: float
    std: float
    count: int
    std_floor: float


class LevelEvent(EventRecord):
    """A signal's alert level changed, judged on ``source``'s pass at ``step``.

    A sequential rule's level changes are level events too: ``signal`` is then the rule's name and ``measure`` is ``cusum``.
    """

    event: Literal["level"] = "level"
    step: int
    signal: str
    source: Source
    old: LevelName
    new: LevelName
    measure: Measure
    observed: float


class ActionEvent(EventRecord):
    """A configured action was carried out (or, for ``realign``, refused with a ``reason``).

    ``checkpoint`` adds ``path``; a ``realign`` adds ``started``, and ``signals`` and ``before``
    (each signal's alerting measure) when it started, ``reason`` when it did not.
    """

    event: Literal["action"] = "action"
    step: int
    action: Action
    levels: dict[str, LevelName]
    path: str | None = None
    started: bool | None = None
    signals: list[str] | None = None
    before: dict[str, float] | None = None
    reason: str | None = None


class FlaggedEvent(EventRecord):
    """One training sample whose own score crossed its signal's ``flag`` threshold."""

    event: Literal["flagged"] = "flagged"
    step: int
    signal: str
    #: The rank whose batch held the sample, when several ranks' batches were scored together.
    rank: int | None = None
    batch_index: int
    score: float
    measure: Measure
    observed: float


class AnsweredPrompt(_Record):
    """A probe prompt and the model's answer, both truncated for the log."""

    prompt: str
    answer: str


class ScoresEvent(EventRecord):
    """Every training sample of one scored batch, per signal (``train_batch.record_scores``): the raw material of flag studies."""

    event: Literal["scores"] = "scores"
    step: int
    #: Signal name → one score per sample, in batch order (null: nothing pooled, or not finite).
    signals: dict[str, list[Measured]]
    #: ``[rank, index in that rank's batch]`` per sample, when several ranks' batches were scored together.
    origins: list[list[int]] | None = None


class AnswersEvent(EventRecord):
    """A ``generations`` pass: how many prompts were answered, and the first answers for a human to read."""

    event: Literal["answers"] = "answers"
    step: int
    answered: int
    empty: int
    skipped: int
    answers: list[AnsweredPrompt]


class ErrorEvent(EventRecord):
    """A monitor stage failed (counted, never raised into training)."""

    event: Literal["error"] = "error"
    #: The step being sampled; ``None`` before the first one.
    step: int | None
    stage: str
    error: str
    trace: str


class RealignReadyEvent(EventRecord):
    """The benign set for realignment is ready (at start-up, before any step)."""

    event: Literal["realign_ready"] = "realign_ready"
    samples: int
    dataset: str


class RealignmentEvent(EventRecord):
    """A realignment attempt trained its benign samples and was judged at ``step``."""

    event: Literal["realignment"] = "realignment"
    step: int
    attempt: int
    started_step: int
    samples: int
    outcome: Outcome
    signals: list[str]
    before: dict[str, float]
    #: Each triggering signal's measure after the attempt; ``None`` where it was not measured.
    after: dict[str, Measured]
    #: With ``realign.in_domain_prompts``: the verdict on the generic sources alone, the same measures on the
    #: in-domain prompts when the realignment started and after this attempt, and their verdict
    #: (``outcome`` is recovered only when both are).
    generic_recovered: bool | None = None
    in_domain_before: dict[str, Measured] | None = None
    in_domain_after: dict[str, Measured] | None = None
    in_domain_recovered: bool | None = None


class JudgedAnswer(_Record):
    """One of a behavioural check's lowest-aligned answers, with the judge's verdict."""

    question: str
    answer: str
    aligned: float
    coherent: float
    misaligned: bool


class BehaviourEvent(EventRecord):
    """A behavioural check: the judge's verdicts on the model's answers (the rates are ``None`` when nothing was graded)."""

    event: Literal["behaviour"] = "behaviour"
    step: int
    judge: str
    n: int
    failed: int
    misaligned_rate: Measured
    aligned_mean: Measured
    coherent_mean: Measured
    seconds: float
    shared_answers: bool
    examples: list[JudgedAnswer]


class UnknownEvent(EventRecord):
    """A kind this version does not know (a newer writer's): its envelope is checked, its fields are kept in ``model_extra``."""


_KNOWN: dict[str, type[EventRecord]] = {
    HEADER_EVENT: HeaderEvent, "start": StartEvent, "sample": SampleEvent, "baseline": BaselineEvent, "level": LevelEvent,
    "action": ActionEvent, "flagged": FlaggedEvent, "scores": ScoresEvent, "answers": AnswersEvent, "error": ErrorEvent, "realign_ready": RealignReadyEvent,
    "realignment": RealignmentEvent, "behaviour": BehaviourEvent,
}
#: The kinds a writer may log (the header is the event log's own first line).
EVENT_KINDS: tuple[str, ...] = tuple(kind for kind in _KNOWN if kind != HEADER_EVENT)
_UNKNOWN = "unknown kind"


def _tag(record: Any) -> str:
    """The record class to validate with: the one ``event`` names, else :class:`UnknownEvent` (which refuses an ``event`` that is no string)."""
    kind = record.get("event") if isinstance(record, Mapping) else getattr(record, "event", None)
    return kind if isinstance(kind, str) and kind in _KNOWN else _UNKNOWN


#: One line of the event log, typed by its ``event``; ``isinstance`` tells the kinds apart.
Event = Annotated[
    Annotated[HeaderEvent, Tag(HEADER_EVENT)] | Annotated[StartEvent, Tag("start")] | Annotated[SampleEvent, Tag("sample")]
    | Annotated[BaselineEvent, Tag("baseline")] | Annotated[LevelEvent, Tag("level")] | Annotated[ActionEvent, Tag("action")]
    | Annotated[FlaggedEvent, Tag("flagged")] | Annotated[ScoresEvent, Tag("scores")] | Annotated[AnswersEvent, Tag("answers")] | Annotated[ErrorEvent, Tag("error")]
    | Annotated[RealignReadyEvent, Tag("realign_ready")] | Annotated[RealignmentEvent, Tag("realignment")]
    | Annotated[BehaviourEvent, Tag("behaviour")] | Annotated[UnknownEvent, Tag(_UNKNOWN)],
    Discriminator(_tag),
]
_EVENT: TypeAdapter[Event] = TypeAdapter(Event)

#: Per writable kind, its record without the envelope the event log stamps (``time``, ``run``):
#: the same fields and types, so what a writer passes is checked against exactly what readers get.
_WRITTEN: dict[str, type[_Record]] = {
    kind: create_model(
        f"{record.__name__}Fields", __base__=_Record,
        **{name: (field.annotation, field) for name, field in record.model_fields.items() if name not in ("time", "run")},
    )
    for kind, record in _KNOWN.items() if kind != HEADER_EVENT
}


def _problems(error: ValidationError, *, skip: int) -> str:
    """``field.path: what is wrong`` per problem; ``skip`` drops the union tag pydantic puts first in each path."""
    parts = []
    for problem in error.errors(include_url=False):
        path = ".".join(str(part) for part in problem["loc"][skip:])
        message = problem["msg"].removeprefix("Value error, ")
        parts.append(f"{path}: {message}" if path else message)
    return "; ".join(parts)


def parse_event(record: Mapping[str, Any], where: str = "event") -> Event:
    """The typed record of one event-log object; raises :class:`EventSchemaError` naming ``where`` (e.g. ``events.jsonl:12``) and the field."""
    try:
        return _EVENT.validate_python(dict(record))
    except ValidationError as error:
        kind = record.get("event")
        named = f"{kind!r} event" if isinstance(kind, str) else "event"
        raise EventSchemaError(f"{where}: not a valid {named} ({_problems(error, skip=1)})") from None


def read_events(path: str | Path) -> list[Event]:
    """Every line of an event log, typed; the first line that is not JSON or does not fit the schema raises, naming ``file:line``."""
    return [parse_event(record, where) for where, record in read_jsonl(path)]


def check_event(kind: str, fields: Mapping[str, object]) -> None:
    """Refuse, before it is written, an event whose kind or fields the schema lacks (or whose fields are missing or mistyped).

    The fields are checked as the event log will write them (NaN and infinity as null), so every
    record that passes reads back with :func:`read_events`.
    """
    record = _WRITTEN.get(kind)
    if record is None:
        raise EventSchemaError(f"event {kind!r}: not a kind of the event log's schema ({', '.join(EVENT_KINDS)})")
    try:
        record.model_validate({"event": kind, **json_safe(dict(fields))}, context=_WRITING)
    except ValidationError as error:
        raise EventSchemaError(f"event {kind!r}: {_problems(error, skip=0)}") from None
