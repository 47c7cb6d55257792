"""The monitor's YAML config, validated strictly into typed models.

Strict because a safety monitor with a silently ignored typo (``critcal: 3``) is worse than none:
unknown keys are errors, and every error names its field path and how to fix it. The JSON Schema
shipped in ``em_monitor/schema/monitor.schema.json`` is generated from these models
(``em-monitor schema --write`` rewrites it) so editors can validate as you type.
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

from em_monitor.errors import InputError
from em_monitor.shipped import is_builtin, resolve_builtin
from em_monitor.textfiles import TextFileError, load_yaml, read_text

__all__ = [
    "ACTIONS",
    "SOURCES",
    "DEFAULT_SOURCES",
    "ConfigError",
    "SignalRule",
    "SequentialSignal",
    "SequentialRule",
    "ActionsConfig",
    "GenerationsConfig",
    "DistributedConfig",
    "PrometheusConfig",
    "TlsConfig",
    "BasicAuthConfig",
    "RealignConfig",
    "MonitorConfig",
    "check_signal_names",
    "load_config",
    "parse_config",
    "schema_path",
]

#: Where the monitor samples activations. Checked against this one tuple everywhere.
SOURCES: tuple[str, ...] = ("prompts", "train_batch", "generations")
#: The sources sampled when `sources` is not set: generating answers costs a decode loop, so users opt in.
DEFAULT_SOURCES: tuple[str, ...] = ("prompts", "train_batch")
#: What a threshold crossing can trigger.
ACTIONS: tuple[str, ...] = ("log", "checkpoint", "stop", "realign")

#: Text that names a file, URL or label: no control characters (a NUL cannot be in a path; a newline in a path is a typo).
PlainText = Annotated[str, StringConstraints(min_length=1, pattern=r"^[^\x00-\x1f]*$")]

Source = Literal["prompts", "train_batch", "generations"]
Action = Literal["log", "checkpoint", "stop", "realign"]
FallbackAction = Literal["log", "checkpoint", "stop"]


#: Upper bounds for counts and sizes: far above any real run, low enough that a typo such as
#: `max_length: 1.0e23` fails at start-up instead of deep inside a tokenizer or an allocator.
MAX_STEPS = 1_000_000_000
MAX_COUNT = 1_000_000
MAX_TOKENS = 1_048_576


class ConfigError(InputError):
    """Invalid monitor config. ``problems`` holds one ``(field path, message)`` pair per error."""

    def __init__(self, source: str, problems: list[tuple[str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  {path}: {message}" for path, message in problems)
        super().__init__(f"invalid monitor config {source}:\n{lines}")


class _Strict(BaseModel):
    # NaN and infinity are refused: a threshold of NaN or inf is accepted by a comparison and can never fire.
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)


class SignalRule(_Strict):
    """Thresholds for one signal. Alerts fire when the measure is *at or above* a threshold."""

    measure: Literal["value", "drift"] = Field("drift", description="Compare thresholds with the raw value or with the drift (baseline std units).")
    warn: float | None = Field(None, description="Level 1 threshold; null disables the warn level.")
    critical: float | None = Field(None, description="Level 2 threshold; null disables the critical level.")
    hysteresis: float = Field(0.0, ge=0, le=1e6, description="A level clears only once the measure falls below threshold minus this.")
    min_samples: int = Field(1, ge=1, le=MAX_COUNT, description="Sampling passes compared with a finished baseline before this signal may alert.")
    sources: list[Source] | None = Field(None, description="Sources whose drift sets the level (max over them); null = every enabled source.")
    flag: float | None = Field(None, description="Per-sample threshold for flagging training samples; null = `critical` when the rule's sources include train_batch.")
    flag_measure: Literal["value", "drift"] | None = Field(
        None, description="What `flag` is compared with; null = `measure`. `value` suits data checks: a probe's probability means the same on any baseline, while a training-batch baseline may already hold the poison.")

    @model_validator(mode="after")
    def _warn_below_critical(self) -> SignalRule:
        if self.warn is not None and self.critical is not None and self.warn >= self.critical:
            raise ValueError(f"warn ({self.warn}) must be below critical ({self.critical}); lower warn or raise critical")
        return self


class SequentialSignal(_Strict):
    """One signal in a sequential rule: its in-control pass drift (from benign control runs) and its weight."""

    mean: float = Field(0.0, ge=-1e6, le=1e6, description="In-control mean of this signal's pass drift (σ), as benign control runs measured it.")
    std: float = Field(gt=0, le=1e6, description="In-control spread of this signal's pass drift across passes (σ); `em-monitor calibrate --sequential` measures it.")
    weight: float = Field(1.0, ge=0, le=1e6, description="Weight in the combined statistic; calibrate sets weights that make it unit-variance under the signals' correlation.")


class SequentialRule(_Strict):
    """A CUSUM over passes of one source, on one signal or a weighted combination (runtime/sequential.py).

    Each pass adds ``z - reference`` to the rule's statistic (never below 0), with ``z`` the
    combined, in-control-standardised drift of the pass; the statistic is compared with the
    decision intervals ``warn`` and ``critical`` like a level rule's measure.
    """

    signals: dict[str, SequentialSignal] = Field(min_length=1, description="Signals combined, each with its in-control pass drift model.")
    source: Source = Field("generations", description="The source whose passes the rule accumulates.")
    reference: float = Field(0.5, ge=0, le=1e6, description="Allowance k per pass, in units of the combined statistic: about half the shift to detect.")
    warn: float | None = Field(None, gt=0, le=1e6, description="Decision interval h for warn (the statistic's units); null disables the warn level.")
    critical: float | None = Field(None, gt=0, le=1e6, description="Decision interval h for critical; null disables the critical level.")
    hysteresis: float = Field(0.0, ge=0, le=1e6, description="A level clears only once the statistic falls below its interval minus this.")

    @model_validator(mode="after")
    def _a_usable_interval(self) -> SequentialRule:
        if self.warn is None and self.critical is None:
            raise ValueError("set `warn` or `critical` (the decision interval); `em-monitor calibrate --sequential` computes them")
        if self.warn is not None and self.critical is not None and self.warn >= self.critical:
            raise ValueError(f"warn ({self.warn}) must be below critical ({self.critical}); lower warn or raise critical")
        return self


class ActionsConfig(_Strict):
    """What happens when a signal's level rises."""

    on_warn: list[Action] = Field(default_factory=lambda: ["log"])
    on_critical: list[Action] = Field(default_factory=lambda: ["log", "checkpoint"])


class RealignConfig(_Strict):
    """Benign-data realignment: what the ``realign`` action trains on, for how long, and what follows."""

    dataset: PlainText = Field("on_policy", description="`on_policy`: the model's own greedy answers to `prompts`, recorded at the start of the run; or a chat JSONL file.")
    prompts: PlainText = Field("builtin:benign", description="Prompts answered for the on_policy dataset: `builtin:benign` or a file.")
    in_domain_prompts: PlainText | None = Field(
        None, description="Prompts framed like the training data (a file, or `builtin:`): an attempt counts as recovered only when its signals are back on these too, "
                          "against their own baseline from the start of the run (benign fine-tuning can hide misalignment behind the training context). null = the generic check only.")
    on_policy_samples: int = Field(64, ge=1, le=MAX_COUNT, description="How many of `prompts` to answer at the start of the run (on_policy only).")
    max_new_tokens: int = Field(64, ge=1, le=MAX_TOKENS, description="Answer length for the on_policy dataset.")
    max_length: int = Field(256, ge=8, le=MAX_TOKENS, description="Token limit of a benign training sample.")
    samples: int = Field(64, ge=1, le=MAX_COUNT, description="Benign training samples per realignment attempt (summed over ranks).")
    max_attempts: int = Field(2, ge=1, le=MAX_COUNT, description="Attempts before giving up and running `fallback`.")
    cooldown_steps: int = Field(20, ge=0, le=MAX_STEPS, description="Steps after a realignment ends before another may start (no flapping).")
    lr: float | None = Field(None, gt=0, le=1e3, description="Learning rate of the benign steps (set before each one, so an LR scheduler cannot undo it); null keeps the run's own.")
    fallback: list[FallbackAction] = Field(default_factory=lambda: ["stop"], description="Actions when every attempt failed to bring the signals under warn.")


class GenerationsConfig(_Strict):
    """The `generations` source: the model's own greedy answers to probe prompts, scored on the answer tokens.

    Its own block because it costs a decode loop: a lower cadence, fewer prompts and a time budget
    keep it from dominating the step time (FINDINGS: it is also where the signal is strongest).
    """

    every_n_steps: int = Field(50, ge=1, le=MAX_STEPS, description="Generate and score answers every N optimizer steps (any N: each source keeps its own cadence), and at every step until the baseline is complete.")
    prompts: PlainText | None = Field(None, description="Prompts to answer: `builtin:eval` or a file; null = the top-level `prompts`.")
    max_prompts: int = Field(16, ge=1, le=MAX_COUNT, description="Answer the first N of those prompts.")
    max_new_tokens: int = Field(32, ge=1, le=MAX_TOKENS, description="Answer length limit in tokens (greedy decoding).")
    batch_size: int = Field(8, ge=1, le=MAX_COUNT, description="Prompts answered per generate call.")
    time_budget_seconds: float = Field(60.0, gt=0, le=86_400, description="Stop starting new batches once a pass has taken this long (counted in em_monitor_errors_total{stage=\"generations_budget\"}).")


class TrainBatchConfig(_Strict):
    """The `train_batch` source's cadence, apart from the probe passes'.

    Scoring a training batch reuses the activations of the training forward pass (about 3 ms a
    batch on SmolLM2, against 1.3 s for a probe-prompt pass), so it can afford every step, and a
    per-sample flag only catches the poisoned samples it is shown: at 5% poison and every 5 steps,
    a 60-step run scores 7 of its 24 poisoned samples.
    """

    every_n_steps: int | None = Field(None, ge=1, le=MAX_STEPS, description="Score training batches every N optimizer steps (and at every step until the baseline is complete); null = the top-level every_n_steps.")
    record_scores: bool = Field(False, description="Write every scored training sample's score, per signal, to the event log (`scores` events): what `calibrate` and flag studies read back. About 20 bytes a sample and signal.")


class DistributedConfig(_Strict):
    """How the monitor behaves between ranks of a multi-process run.

    Its exchanges (every rank's scores to rank 0, the decision back) have a deadline of their own,
    apart from training's collectives, so a lost or stalled rank cannot hang the others
    (``runtime/collectives.py``). The deadline must cover the longest monitor work rank 0 does
    while the others wait at an exchange: a probe pass plus a ``generations`` pass (bounded by
    ``generations.time_budget_seconds`` and one batch).
    """

    timeout_seconds: float = Field(600.0, ge=1, le=86_400, description="Longest wait at one of the monitor's exchanges between ranks; past it the rank stops monitoring (counted as errors_total{stage=\"gather\"}) and training goes on.")


class TlsConfig(_Strict):
    """HTTPS for the metrics endpoint: PEM files, resolved against the config file's folder."""

    cert_file: PlainText = Field(description="PEM certificate (or chain) the endpoint presents.")
    key_file: PlainText = Field(description="PEM private key of `cert_file`.")


class BasicAuthConfig(_Strict):
    """Basic auth for the metrics endpoint. The password comes from the environment or a file, never the YAML."""

    username: PlainText = Field(description="The user name scrapers send.")
    password_env: PlainText | None = Field(None, description="Name of the environment variable holding the password.")
    password_file: PlainText | None = Field(None, description="File holding the password (one line; a trailing newline is ignored).")

    @model_validator(mode="before")
    @classmethod
    def _no_inline_password(cls, data: object) -> object:
        if isinstance(data, dict) and "password" in data:
            raise ValueError("never write the password into the config: put it in an environment variable named by `password_env`, or in a file named by `password_file`")
        return data

    @model_validator(mode="after")
    def _one_password_source(self) -> BasicAuthConfig:
        if (self.password_env is None) == (self.password_file is None):
            raise ValueError("set exactly one of `password_env` and `password_file`")
        return self

    def password(self) -> str:
        """Read the password now (at start-up); it is never kept in the config."""
        if self.password_env is not None:
            value = os.environ.get(self.password_env, "")
            where = f"environment variable {self.password_env}"
        else:
            value = read_text(self.password_file).rstrip("\r\n")
            where = f"file {self.password_file}"
        if not value:
            raise ValueError(f"prometheus.basic_auth: the {where} is empty or unset; set it to the password before starting")
        return value


class PrometheusConfig(_Strict):
    """The metrics endpoint and the Pushgateway (rank 0 only)."""

    enabled: bool = Field(True, description="Serve the HTTP endpoint (the Pushgateway works either way).")
    addr: PlainText = Field("127.0.0.1", description="Bind address; keep loopback unless a scraper elsewhere needs it.")
    port: int = Field(9464, ge=0, le=65535, description="0 picks a free port (logged at start-up).")
    tls: TlsConfig | None = Field(None, description="Serve HTTPS with this certificate and key; null = plain HTTP.")
    basic_auth: BasicAuthConfig | None = Field(None, description="Require basic auth on the endpoint; null = none.")
    pushgateway: PlainText | None = Field(None, description="Pushgateway URL (http://host:9091) to push to after each sampling pass and at the end; null = no pushing.")
    job: PlainText = Field("em_monitor", description="`job` label of the pushed group (its other grouping label is `run`).")
    push_timeout: float = Field(2.0, gt=0, le=60, description="Seconds one push may take; pushes run in the background, only the final one is waited for.")
    delete_on_end: bool = Field(False, description="Delete the run's group from the Pushgateway when training ends, instead of a final push.")

    @field_validator("pushgateway")
    @classmethod
    def _gateway_url(cls, url: str | None) -> str | None:
        if url is not None and not url.startswith(("http://", "https://")):
            raise ValueError(f"{url!r} is not an http(s) URL; write it with its scheme, e.g. http://pushgateway:9091")
        return url


class MonitorConfig(_Strict):
    """Top-level monitor config (DESIGN.md contract)."""

    run: PlainText = Field("default", max_length=200, description="Value of the `run` label on every series.")
    pack: PlainText = Field(description="Persona pack directory (contains pack.yaml), or `builtin:smollm2` for the shipped pack.")
    layer: int | None = Field(None, ge=0, le=MAX_COUNT, description="Override the pack's layer (only for packs whose signals transfer).")
    every_n_steps: int = Field(10, ge=1, le=MAX_STEPS, description="Sample every N optimizer steps.")
    baseline_samples: int = Field(3, ge=1, le=MAX_COUNT, description="Sampling passes, at the first steps of the run, that form the baseline.")
    prompts: PlainText = Field("builtin:eval", description="Probe prompts: `builtin:eval` or a file (.txt one per line, or .jsonl with `prompt`).")
    batch_size: int = Field(8, ge=1, le=MAX_COUNT, description="Probe prompts per forward pass.")
    max_length: int = Field(128, ge=8, le=MAX_TOKENS, description="Token limit for probe prompts.")
    sources: list[Source] = Field(default_factory=lambda: list(DEFAULT_SOURCES), min_length=1, description="Where to sample: prompts, train_batch, generations (opt-in: costs a decode loop).")
    generations: GenerationsConfig = Field(default_factory=GenerationsConfig)
    train_batch: TrainBatchConfig = Field(default_factory=TrainBatchConfig)
    signals: dict[str, SignalRule] = Field(default_factory=dict, description="Alert rules by signal name; unlisted signals are exported but never alert.")
    sequential: dict[str, SequentialRule] = Field(
        default_factory=dict, description="Sequential (CUSUM) rules by name: evidence summed over passes and signals, for shifts too small for one pass to show.")
    actions: ActionsConfig = Field(default_factory=ActionsConfig)
    realign: RealignConfig = Field(default_factory=RealignConfig)
    prometheus: PrometheusConfig = Field(default_factory=PrometheusConfig)
    distributed: DistributedConfig = Field(default_factory=DistributedConfig)
    event_log: PlainText | None = Field("em_monitor_events.jsonl", description="Append-only JSONL event log; null disables it.")

    @field_validator("sources")
    @classmethod
    def _unique_sources(cls, sources: list[str]) -> list[str]:
        if len(set(sources)) != len(sources):
            raise ValueError("list each source once")
        return sources

    @model_validator(mode="after")
    def _rule_sources_enabled(self) -> MonitorConfig:
        for name, rule in self.signals.items():
            missing = sorted(set(rule.sources or []) - set(self.sources))
            if missing:
                raise ValueError(f"signals.{name}.sources names {missing}, which are not in `sources`; add them there or remove them here")
        for name, rule in self.sequential.items():
            if rule.source not in self.sources:
                raise ValueError(f"sequential.{name}.source is {rule.source!r}, which is not in `sources`; add it there or choose another")
        return self


_FIXES = {
    "extra_forbidden": "unknown key: remove it or fix its spelling",
    "missing": "required: add this key",
    "float_parsing": "expected a number",
    "float_type": "expected a number",
    "int_parsing": "expected a whole number",
    "int_type": "expected a whole number",
    "bool_parsing": "expected true or false",
    "literal_error": "not one of the allowed values",
    "greater_than_equal": "too small",
    "less_than_equal": "too large",
    "greater_than": "too small",
    "finite_number": "NaN and infinity can never trigger an alert: give a finite number",
    "int_from_float": "expected a whole number",
    "int_parsing_size": "too large",
    "string_too_long": "too long",
    "string_pattern_mismatch": "control characters (newlines, tabs) are not allowed here",
}


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors():
        path = ".".join(str(part) for part in item["loc"]) or "(top level)"
        hint = _FIXES.get(item["type"])
        message = item["msg"].removeprefix("Value error, ")
        problems.append((path, f"{hint} ({message})" if hint and hint not in message else message))
    return problems


def parse_config(raw: object, *, source: str = "<config>", base_dir: Path | None = None) -> MonitorConfig:
    """Validate an already-parsed YAML mapping; relative file paths resolve against ``base_dir``."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [("(top level)", "expected a mapping of keys such as `pack:` and `signals:`")])
    try:
        config = MonitorConfig.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(source, _problems(error)) from None
    return _resolve_paths(config, base_dir or Path.cwd(), source)


def _file_at(base_dir: Path, text: str | Path) -> tuple[Path, bool]:
    """``text`` resolved against the config's folder, and whether a regular file is there (a path the OS refuses, too long say, holds none)."""
    path = base_dir / text
    try:
        path = path.resolve()
        return path, path.is_file()
    except (OSError, ValueError):
        return path, False


def _resolve_paths(config: MonitorConfig, base_dir: Path, source: str) -> MonitorConfig:
    from em_monitor.chat import read_chat_jsonl
    from em_monitor.packs import BUILTIN_PACKS

    problems = []
    pack: Path | None = None
    if is_builtin(config.pack):
        try:
            pack = resolve_builtin(config.pack, BUILTIN_PACKS, "pack")
        except InputError as error:
            problems.append(("pack", str(error)))
    else:
        pack = _file_at(base_dir / config.pack, "pack.yaml")[0].parent
    if pack is not None and not _file_at(pack, "pack.yaml")[1]:
        problems.append(("pack", f"no pack.yaml in {pack}; point it at a directory made by `em-monitor build-pack`"))
    updates: dict[str, object] = {"pack": str(pack)}
    updates["prompts"] = _resolve_prompts(config.prompts, "prompts", base_dir, problems)
    realign: dict[str, str] = {"prompts": _resolve_prompts(config.realign.prompts, "realign.prompts", base_dir, problems)}
    if config.realign.in_domain_prompts is not None:
        realign["in_domain_prompts"] = _resolve_prompts(config.realign.in_domain_prompts, "realign.in_domain_prompts", base_dir, problems)
    if config.realign.dataset != "on_policy":
        dataset, found = _file_at(base_dir, config.realign.dataset)
        if not found:
            problems.append(("realign.dataset", f"file {dataset} does not exist; give a chat JSONL path or `on_policy`"))
        else:
            try:
                read_chat_jsonl(dataset)
            except InputError as error:
                problems.append(("realign.dataset", str(error)))
        realign["dataset"] = str(dataset)
    updates["realign"] = config.realign.model_copy(update=realign)
    updates["prometheus"] = _resolve_prometheus(config.prometheus, base_dir, problems)
    updates["generations"] = _resolve_generations(config, base_dir, problems)
    if problems:
        raise ConfigError(source, problems)
    return config.model_copy(update=updates)


def _resolve_prometheus(settings: PrometheusConfig, base_dir: Path, problems: list[tuple[str, str]]) -> PrometheusConfig:
    """Resolve the endpoint's files and check, at start-up, that TLS and the password are usable."""
    updates: dict[str, object] = {}
    if settings.tls is not None:
        (cert, has_cert), (key, has_key) = _file_at(base_dir, settings.tls.cert_file), _file_at(base_dir, settings.tls.key_file)
        missing = [(f"prometheus.tls.{name}", path) for name, path, found in (("cert_file", cert, has_cert), ("key_file", key, has_key)) if not found]
        problems.extend((field, f"file {path} does not exist; give the path of a PEM file") for field, path in missing)
        if not missing:
            try:
                ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(certfile=str(cert), keyfile=str(key))
            except (ssl.SSLError, OSError) as error:
                problems.append(("prometheus.tls", f"cannot load {cert} with {key} ({error}); give a PEM certificate and its matching unencrypted private key"))
        updates["tls"] = TlsConfig(cert_file=str(cert), key_file=str(key))
    auth = settings.basic_auth
    if auth is not None and auth.password_env is not None and not os.environ.get(auth.password_env):
        problems.append(("prometheus.basic_auth.password_env", f"environment variable {auth.password_env} is not set (or empty); export the password in it before starting"))
    if auth is not None and auth.password_file is not None:
        path, found = _file_at(base_dir, auth.password_file)
        if not found:
            problems.append(("prometheus.basic_auth.password_file", f"file {path} does not exist; write the password into it or use password_env"))
        elif not read_text(path).strip("\r\n"):
            problems.append(("prometheus.basic_auth.password_file", f"file {path} is empty; write the password into it"))
        updates["basic_auth"] = auth.model_copy(update={"password_file": str(path)})
    return settings.model_copy(update=updates)


def _resolve_generations(config: MonitorConfig, base_dir: Path, problems: list[tuple[str, str]]) -> GenerationsConfig:
    """Resolve the answered prompts (the controller meets any cadence: no step has to be a sampling step)."""
    settings = config.generations
    if settings.prompts is None:
        return settings
    return settings.model_copy(update={"prompts": _resolve_prompts(settings.prompts, "generations.prompts", base_dir, problems)})


def _resolve_prompts(spec: str, field: str, base_dir: Path, problems: list[tuple[str, str]]) -> str:
    """A ``builtin:`` prompt set is kept by name; a file is resolved against the config's folder."""
    from em_monitor.prompts import BUILTIN_PROMPT_SETS, load_prompts

    if is_builtin(spec):
        try:
            resolve_builtin(spec, BUILTIN_PROMPT_SETS, "prompt set")
        except InputError as error:
            problems.append((field, str(error)))
        return spec
    path, found = _file_at(base_dir, spec)
    if not found:
        problems.append((field, f"file {path} does not exist; give a .txt/.jsonl path or a builtin: set"))
        return str(path)
    try:
        load_prompts(str(path))  # read now, so a broken prompt file stops the run at start-up with its line named
    except InputError as error:
        problems.append((field, str(error)))
    return str(path)


def load_config(path: str | Path) -> MonitorConfig:
    """Read, parse and validate a monitor YAML file (safe, strict YAML: see :mod:`em_monitor.textfiles`)."""
    path = Path(path)
    try:
        raw = load_yaml(read_text(path), str(path))
    except TextFileError as error:
        raise ConfigError(str(path), [("(file)", str(error).removeprefix(f"{path}: "))]) from None
    return parse_config(raw, source=str(path), base_dir=path.parent)


def check_signal_names(config: MonitorConfig, known: list[str] | tuple[str, ...] | set[str], source: str = "<config>") -> None:
    """Every alert rule must name a signal the pack has; a typo would silently never alert.

    A sequential rule's own name must not be a signal's: both appear as ``signal`` in level events and actions.
    """
    choose = f"choose from {', '.join(sorted(known))}"
    problems = [(f"signals.{name}", f"the pack has no such signal; {choose}") for name in sorted(set(config.signals) - set(known))]
    for name, rule in config.sequential.items():
        if name in known or name in config.signals:
            problems.append((f"sequential.{name}", "this name is a signal's; name the rule apart from every signal (e.g. `narrow_drift`)"))
        problems += [(f"sequential.{name}.signals.{signal}", f"the pack has no such signal; {choose}") for signal in sorted(set(rule.signals) - set(known))]
    if problems:
        raise ConfigError(source, problems)


def schema_path() -> Path:
    """Where the generated JSON Schema ships inside the package."""
    return Path(__file__).parent / "schema" / "monitor.schema.json"


def render_schema() -> str:
    """The JSON Schema of :class:`MonitorConfig`, as shipped."""
    return json.dumps(MonitorConfig.model_json_schema(), indent=2, sort_keys=True) + "\n"
