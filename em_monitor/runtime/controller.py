"""The framework-neutral controller: everything a training adapter would otherwise write itself.

It assembles the monitor for one run (probes, signals, metrics, event log, endpoint, pusher,
realignment), says which sources are due at a step, runs them, folds the scores into a typed
:class:`Decision` on rank 0, and carries the decision out on every rank through the
:class:`Levers` an adapter lends it: collectives, checkpoint, stop, learning rate, loggers. An
adapter (Lightning's ``PersonaMonitor``, the Hugging Face callback) only maps its framework's
events onto :meth:`Controller.begin_step` / :meth:`Controller.end_step` and implements
``Levers``, so adapters behave identically by construction.

Every stage runs under ``Monitor.guard``: nothing here raises into training after start-up.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import torch

from em_monitor.chat import (
    ChatCollator,
    read_chat_jsonl,
    scored_token_mask,
    split_packed_rows,
)
from em_monitor.config import MonitorConfig
from em_monitor.packs import PersonaPack
from em_monitor.prompts import load_prompts
from em_monitor.runtime.capture import (
    capture_residual,
    check_layer,
    decoder_blocks,
    hidden_size,
)
from em_monitor.runtime.collectives import RankChannel
from em_monitor.runtime.drift import STD_FLOOR_SHARE, RunningStats
from em_monitor.runtime.endpoint import tls_context
from em_monitor.runtime.events import EventLog
from em_monitor.runtime.export import MetricsServer, MonitorMetrics
from em_monitor.runtime.in_domain import InDomainCheck
from em_monitor.runtime.levers import Levers
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.own_answers import AnswerPass, AnswerProbe
from em_monitor.runtime.prompt_probe import PromptProbe
from em_monitor.runtime.push import GatewayPusher
from em_monitor.runtime.rank_reports import MergedPasses, PromptPass, RankReport, merge_reports
from em_monitor.runtime.realign import BenignCursor, Realigner
from em_monitor.runtime.sharding import prepare_generation, rank_share

__all__ = ["Controller", "Decision", "RealignStart"]

log = logging.getLogger("em_monitor")


@dataclass(frozen=True)
class RealignStart:
    """The signals that call for a realignment, and their alerting measures when it starts."""

    signals: tuple[str, ...]
    measures: dict[str, float]


@dataclass(frozen=True)
class Decision:
    """Rank 0's verdict on one sampled step, broadcast to every rank and carried out there."""

    actions: tuple[str, ...] = ()
    #: Set when ``realign`` is among the actions.
    realign_start: RealignStart | None = None
    #: The measures that judge a realignment attempt that has just trained its benign samples.
    realign_after: dict[str, float] | None = None
    #: The same rules' measures on the in-domain prompts (``realign.in_domain_prompts``), when configured.
    realign_in_domain: dict[str, float] | None = None


@dataclass
class _StepWork:
    """What :meth:`Controller.begin_step` left for :meth:`Controller.end_step` of the same step."""

    step: int
    #: A realignment attempt had ended when the step began: its passes judge that attempt.
    checking: bool = False
    #: This rank's probe passes: its scores (and seconds), or the name of the stage that failed.
    prompt_scores: PromptPass | str | None = None
    answers: AnswerPass | str | None = None
    in_domain: PromptPass | str | None = None
    capture: ExitStack | None = None
    buffer: Any = None


class Controller:
    """One monitored run: assembled at the start of training, driven by an adapter at each step.

    Example (what an adapter does)::

        controller = Controller(config, pack, model, tokenizer, levers=levers, start_step=0)
        if controller.begin_step(step):                      # True: a realignment trains this step on benign data
            benign = controller.benign_batch(per_rank=8)     # ... so train on this batch instead
        ...                                                  # the training step runs
        controller.end_step(batch)
        controller.close()
    """

    def __init__(self, settings: MonitorConfig, pack: PersonaPack, model: torch.nn.Module, tokenizer: Any, *, levers: Levers, start_step: int = 0,
                 sharded: bool = False) -> None:
        self.settings, self.pack, self.model, self.levers = settings, pack, model, levers
        #: Parameters are sharded across ranks (FSDP2): every rank joins the probe passes, each with its share of the prompts.
        self.sharded = sharded and levers.world_size > 1
        # First, on every rank alike: creating the channel's process group is itself a collective.
        self.channel = RankChannel(timeout_seconds=settings.distributed.timeout_seconds)
        self._detached = False
        self.layer = settings.layer if settings.layer is not None else pack.layer
        pack.check_width(hidden_size(model))
        check_layer(self.layer, len(decoder_blocks(model)), field="layer" if settings.layer is not None else f"{pack.root / 'pack.yaml'}: layer")
        self.signals = pack.build_signals()
        needs_tokenizer = sorted({"prompts", "generations"} & set(settings.sources))
        if needs_tokenizer and tokenizer is None:
            raise ValueError(f"em-monitor needs the tokenizer for the {needs_tokenizer} source(s): pass tokenizer=...")
        self.probe = self.answer_probe = None
        if "prompts" in settings.sources:
            prompts, real = self._share(load_prompts(settings.prompts))
            self.probe = PromptProbe(tokenizer, prompts, layer=self.layer, signals=self.signals, batch_size=settings.batch_size,
                                     max_length=settings.max_length, share_prefix=not self.sharded, keep=real)
        if "generations" in settings.sources:
            if self.sharded:
                prepare_generation(model)
            answering = settings.generations
            prompts, real = self._share(load_prompts(answering.prompts or settings.prompts)[: answering.max_prompts])
            self.answer_probe = AnswerProbe(
                tokenizer, prompts, layer=self.layer, signals=self.signals,
                batch_size=answering.batch_size, max_new_tokens=answering.max_new_tokens, max_length=settings.max_length,
                time_budget_seconds=answering.time_budget_seconds, keep=real,
                agree=self._agree if self.sharded else None,
            )
        self.special_ids = list(getattr(tokenizer, "all_special_ids", []) or [])
        self.server: MetricsServer | None = None
        self.pusher: GatewayPusher | None = None
        metrics = events = None
        if self.is_rank_zero:
            metrics = MonitorMetrics(settings.run, settings.sources, self.signals.kinds, sequential_rules=list(settings.sequential))
            events = EventLog(settings.event_log, settings.run) if settings.event_log else None
        self.monitor = Monitor(settings, self.signals.kinds, metrics=metrics, events=events, stored_baselines=self._stored_baselines(),
                               std_floors={key: STD_FLOOR_SHARE * spread for key, spread in pack.reference_spreads().items()})
        if metrics is not None:
            self._start_export(metrics)
        self.monitor.event("start", step=start_step, pack=str(pack.root), layer=self.layer, signals=self.signals.kinds, sources=list(settings.sources),
                           baseline_samples=settings.baseline_samples)
        self.realigner: Realigner | None = None
        self.in_domain_probe: PromptProbe | AnswerProbe | None = None
        self.in_domain: InDomainCheck | None = None
        #: In-domain baseline passes started, counted on every rank alike (only rank 0 folds them in), so that
        #: under sharding every rank runs the same forwards: a per-rank count of folded passes would differ.
        self.in_domain_started = 0
        self.benign: BenignCursor | None = None
        self.collator: ChatCollator | None = None
        self.saved_lrs: list[list[float]] | None = None
        if "realign" in settings.actions.on_warn + settings.actions.on_critical:
            self._prepare_realignment(tokenizer)
            if settings.realign.in_domain_prompts is not None:
                self._prepare_in_domain_check(tokenizer, pack)
        self.sampled_step = -1
        self._work: _StepWork | None = None
        self._last_answers: tuple[int, AnswerPass] | None = None

    @property
    def detached(self) -> bool:
        """This rank stopped monitoring: an exchange between ranks missed its deadline or found the ranks out of step."""
        return self._detached

    @property
    def is_rank_zero(self) -> bool:
        return self.levers.rank == 0

    def _agree(self, out_of_time: bool) -> bool:
        """Rank 0's verdict on the generations time budget, on every rank (a sharded pass stops on all ranks at once)."""
        return bool(self.channel.broadcast(out_of_time, tag=f"budget@{self.monitor.current_step}"))

    def _share(self, prompts: list[str]) -> tuple[list[str], int]:
        """The prompts this rank asks, and how many of them count: all of them, unless parameters are sharded.

        Sharded, each rank asks its own contiguous share, padded so that every rank runs the same
        number of batches (each forward is a collective: one rank with a batch more would wait
        forever); the padding's scores are dropped. Rank order then is prompt order, so rank 0's
        concatenation equals a single process's pass. Sharded passes also skip the shared-prefix
        cache: its first-pass check could fall back on one rank and not another, which would
        change that rank's number of forwards.
        """
        if not self.sharded:
            return prompts, len(prompts)
        return rank_share(prompts, self.levers.rank, self.levers.world_size)

    # --- what is due --------------------------------------------------------------------------
    def due(self, step: int) -> frozenset[str]:
        """The sources to sample at ``step`` (empty when nothing is due, or the step was sampled already).

        With gradient accumulation a step spans several batches; it is sampled once.
        """
        if step == self.sampled_step:
            return frozenset()
        checking = self.realignment_check_due
        monitor, sources = self.monitor, set()
        if "prompts" in self.settings.sources and (monitor.is_sampling_step(step) or checking):
            sources.add("prompts")
        if "generations" in self.settings.sources and (monitor.is_generation_step(step) or checking):
            sources.add("generations")
        if "train_batch" in self.settings.sources and (monitor.is_train_batch_step(step) or checking):
            sources.add("train_batch")
        return frozenset(sources)

    @property
    def realignment_check_due(self) -> bool:
        """A realignment attempt has ended and its verdict needs fresh scores from every source."""
        return self.realigner is not None and self.realigner.check_due

    # --- one step -----------------------------------------------------------------------------
    def begin_step(self, step: int) -> bool:
        """Before the training step: score the probe passes (rank 0), attach the training-batch capture (every rank).

        Returns whether this step trains on benign data (a realignment runs): the adapter then
        swaps in :meth:`benign_batch`, and ``realign.lr`` is set again for it. Settled here, before
        the swap takes its samples, so every adapter judges an attempt at the same step (the first
        after its last benign batch). Every source sees the model as it is before this step's
        update; a benign batch is not the user's data and is not scored.
        """
        if self._check_channel():
            return False
        swapped = self.realigning
        self._hold_learning_rate()
        sources = self.due(step)
        if not sources:
            return swapped
        self.monitor.current_step = step
        probing = self.sharded or self.is_rank_zero
        if self.sharded and {"prompts", "generations"} & sources:
            # Every rank must join each forward of a sharded pass: all say so first, on the channel
            # with its deadline, so a rank that has left cannot strand the others inside a forward.
            with self.monitor.guard("gather"):
                self.channel.gather(True, tag=f"ready@{step}")
            if self._check_channel():
                return False
        work = self._work = _StepWork(step, checking=self.realignment_check_due)
        if "prompts" in sources and probing:
            work.prompt_scores = self._prompt_pass(self.probe, "prompts")
        # Its baseline forms at the run's first sampled steps; afterwards it runs only to judge a realignment.
        if self.in_domain is not None and probing:
            forming = self.in_domain_started < self.settings.baseline_samples
            if forming or work.checking:
                self.in_domain_started += forming
                work.in_domain = self._in_domain_pass()
        if "generations" in sources and probing:
            work.answers = "generations"
            with self.monitor.guard("generations"):
                work.answers = self.answer_probe.run(self.model)
                if not self.sharded:
                    self._last_answers = (step, work.answers)
            if self._check_channel():  # under sharding the budget's verdict travels on the channel
                return False
        if "train_batch" in sources and not swapped:
            with self.monitor.guard("capture"):
                # The stack is kept only once the hook is on: a capture that failed leaves nothing to read or release.
                stack = ExitStack()
                work.buffer = stack.enter_context(capture_residual(self.model, self.layer))
                work.capture = stack
        return swapped

    def end_step(self, batch: Any) -> Decision:
        """After the training step begun last: gather, decide on rank 0, broadcast, and carry the decision out on every rank.

        The step is the one :meth:`begin_step` sampled (a framework may have advanced its own
        step counter past the optimizer step by now); nothing happens if none was due.
        """
        work, self._work = self._work, None
        if work is None or self._check_channel():
            self._release(work)
            return Decision()
        step = self.sampled_step = work.step
        started = time.perf_counter()
        report = RankReport(train=self._score_train_batch(work, batch), prompts=work.prompt_scores, answers=work.answers, in_domain=work.in_domain)
        # Every rank reaches both exchanges whatever failed above: a rank that skipped one would leave the others waiting.
        reports: list[object] = []
        with self.monitor.guard("gather"):
            reports = self.channel.gather(report, tag=f"report@{step}")
        decision = Decision()
        if self.is_rank_zero and reports:
            with self.monitor.guard("decide"):
                decision = self._decide(step, work, merge_reports(reports, time.perf_counter() - started, self._count_error))
        with self.monitor.guard("gather"):
            decision = self.channel.broadcast(decision, tag=f"decision@{step}")
        if self._check_channel():
            return Decision()
        if decision.realign_after is not None:
            self._finish_realignment(step, decision.realign_after, decision.realign_in_domain)
        self._act(step, decision.actions, decision.realign_start)
        if self.pusher is not None:
            with self.monitor.guard("push"):
                self.pusher.request()
        return decision

    def abort_step(self) -> None:
        """Training raised inside a step: take the capture hook off and forget the step's work."""
        with self.monitor.guard("teardown"):
            work, self._work = self._work, None
            self._release(work)

    def answers_at(self, step: int) -> AnswerPass | None:
        """The `generations` pass taken at ``step`` (before that step's update), if one ran.

        Why public: a behavioural check at the same step can grade these answers instead of
        generating them a second time — generation is the costliest thing either does.
        """
        if self._last_answers is None or self._last_answers[0] != step:
            return None
        return self._last_answers[1]

    # --- realignment --------------------------------------------------------------------------
    @property
    def realigning(self) -> bool:
        """A realignment is training on benign data: the adapter swaps this step's batches for :meth:`benign_batch`."""
        return self.realigner is not None and self.realigner.training_on_benign

    def benign_batch(self, per_rank: int) -> dict[str, torch.Tensor] | None:
        """While a realignment trains: this rank's next benign batch of ``per_rank`` chats, collated (else None).

        The adapter trains on it instead of the user's batch, the same size, so the step's cost
        and memory stay those of the run; the samples of every rank count toward the attempt.
        """
        if not self.realigning:
            return None
        batch = None
        with self.monitor.guard("realign"):
            chats = self.benign.take(per_rank, rank=self.levers.rank, world_size=self.levers.world_size)
            self.realigner.consume(per_rank * self.levers.world_size)
            batch = self.collator(chats)
        return batch

    def _hold_learning_rate(self) -> None:
        """Before each step that trains on benign data: set ``realign.lr`` again.

        An LR scheduler rewrites the rate after every step, so setting it once at the start of a
        realignment held for one step only. The steps that are not benign (the check after an
        attempt) keep whatever the run's own schedule says.
        """
        if self.saved_lrs is None or self.settings.realign.lr is None or not self.realigning:
            return
        with self.monitor.guard("realign"):
            self.levers.set_learning_rates([[self.settings.realign.lr] * len(rates) for rates in self.saved_lrs])

    # --- end of training ------------------------------------------------------------------------
    def close(self) -> None:
        """Stop the endpoint and the pusher, close the event log. Never raises: the user's code after training must run.

        Each part is guarded on its own, so one failing (a final push to a gateway that is down) cannot skip the rest.
        """
        self.abort_step()
        server, self.server = self.server, None
        if server is not None:
            with self.monitor.guard("teardown"):
                server.close()
        pusher, self.pusher = self.pusher, None
        if pusher is not None:
            with self.monitor.guard("push"):
                pusher.close(delete=self.settings.prometheus.delete_on_end)
        if self.monitor.events is not None:
            self.monitor.events.close()

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        # A failure here must not fail the user's checkpoint: it is saved without the monitor's state (counted).
        with self.monitor.guard("state"):
            state = {"monitor": self.monitor.state_dict(), "sampled_step": self.sampled_step}
            if self.realigner is not None:
                state["realign"] = {**self.realigner.state_dict(), "cursor": self.benign.position, "saved_lrs": self.saved_lrs}
            if self.in_domain is not None:
                state["in_domain"] = self.in_domain.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Resume; a checkpoint whose monitor state does not fit (another config, another pack) resumes with fresh baselines."""
        if not state:
            return
        with self.monitor.guard("state"):
            self.monitor.load_state_dict(state["monitor"])
            self.sampled_step = int(state["sampled_step"])
            if self.realigner is not None and "realign" in state:
                self.realigner.load_state_dict(state["realign"])
                self.benign.position = int(state["realign"]["cursor"])
                self.saved_lrs = state["realign"]["saved_lrs"]
                if self.in_domain is not None and "in_domain" in state:
                    self.in_domain.load_state_dict(state["in_domain"])
                    self.in_domain_started = max(self.in_domain_started, self.in_domain.passes)
                if self.monitor.metrics:
                    self.monitor.metrics.set_realigning(self.realigner.active is not None)

    # --- internals --------------------------------------------------------------------------------
    def _release(self, work: _StepWork | None) -> None:
        if work is not None and work.capture is not None:
            capture, work.capture = work.capture, None
            capture.close()

    def _stored_baselines(self) -> dict[str, dict[str, RunningStats]]:
        """Prompt baselines recorded in the pack, used only when this run asks the same prompts.

        A baseline is a statistic of specific inputs: the pack's prompt-source baseline is valid
        for a run only if the run's probe prompts are the set the pack was measured on.
        """
        if "prompts" not in self.settings.sources or self.settings.prompts != self.pack.spec.built.get("prompts"):
            return {}
        return {
            spec.name: {"prompts": RunningStats.from_mean_std(stats.mean, stats.std, stats.count)}
            for spec in self.pack.spec.signals
            if (stats := spec.baseline.get("prompts")) is not None
        }

    def _start_export(self, metrics: MonitorMetrics) -> None:
        """Rank 0: serve the endpoint (HTTPS and basic auth as configured) and start the Pushgateway pusher."""
        settings = self.settings.prometheus
        if settings.enabled:
            tls = tls_context(settings.tls.cert_file, settings.tls.key_file) if settings.tls else None
            credentials = (settings.basic_auth.username, settings.basic_auth.password()) if settings.basic_auth else None
            if credentials and tls is None:
                log.warning("em-monitor: prometheus.basic_auth without prometheus.tls sends the password in clear text; add a tls section")
            self.server = metrics.serve(settings.addr, settings.port, tls=tls, credentials=credentials)
            self.levers.info(f"em-monitor: metrics at {self.server.url}")
        if settings.pushgateway:
            self.pusher = GatewayPusher(
                metrics.registry, settings.pushgateway, job=settings.job, grouping_key={"run": self.settings.run},
                timeout=settings.push_timeout, on_error=lambda error: self.monitor.record_error("push", error),
            ).start()
            self.levers.info(f"em-monitor: pushing metrics to {settings.pushgateway} (job {settings.job}, run {self.settings.run})")

    def _score_train_batch(self, work: _StepWork, batch: Any) -> dict[str, torch.Tensor] | str | None:
        """This rank's training-batch scores from the captured forward; the stage name if scoring failed; None if not due."""
        if work.capture is None:
            return None
        local: dict[str, torch.Tensor] | str = "score"
        with self.monitor.guard("score"):
            self._release(work)
            activations = work.buffer.activations
            if activations is None:
                raise RuntimeError(f"the training forward never reached decoder block {self.layer}")
            mask = scored_token_mask(batch, self.special_ids).to(activations.device)
            if "position_ids" in batch and "attention_mask" not in batch:  # padding-free packing: one sample per sequence
                activations, mask = split_packed_rows(activations, mask, batch["position_ids"].to(activations.device))
            local = {name: scores.detach().float().cpu() for name, scores in self.signals.score(activations, mask).items()}
        return local

    def _count_error(self, stage: str) -> None:
        if self.monitor.metrics:
            self.monitor.metrics.count_error(stage)

    def _check_channel(self) -> bool:
        """Whether this rank has stopped monitoring because an exchange between ranks missed its deadline.

        Final: after a timeout the channel's state is unknown, and a rank that went on with
        sharded passes could meet a peer that did not. Training goes on unwatched; the last-pass
        gauge stops moving, so the ``EmMonitorSilent`` alert pages.
        """
        if self.channel.lost is None or self._detached:
            return self._detached
        self._detached = True
        self.abort_step()
        if self.saved_lrs is not None:  # a realignment in progress must not keep its learning rate
            saved, self.saved_lrs = self.saved_lrs, None
            with self.monitor.guard("realign"):
                self.levers.resume_learning_rates(saved)
        log.error("em-monitor: rank %d stopped monitoring, training goes on: %s", self.levers.rank, self.channel.lost)
        return True

    def _decide(self, step: int, work: _StepWork, passes: MergedPasses) -> Decision:
        """Rank 0: fold this step's scores into the monitor, and say what every rank must do."""
        monitor, changes, train_scores = self.monitor, [], passes.train
        if passes.prompts is not None:
            scores, seconds = passes.prompts
            with monitor.guard("prompts"):
                changes += monitor.observe(step, "prompts", scores, seconds)
        if passes.answers is not None:
            with monitor.guard("generations"):
                changes += monitor.observe_answers(step, passes.answers)
        if train_scores is not None:
            with monitor.guard("score"):
                changes += monitor.observe(step, "train_batch", train_scores.scores, train_scores.seconds)
                monitor.flag_samples(step, train_scores.scores, origins=train_scores.origins)
                if monitor.config.train_batch.record_scores:
                    monitor.record_scores(step, train_scores.scores, origins=train_scores.origins)
        self._log_values()
        actions = tuple(monitor.actions_for(changes))
        # Judged only on passes that began after the attempt's last benign batch (an adapter may train that batch after begin_step).
        after = self._realign_measures(self.realigner.active.signals) if work.checking else None
        in_domain = self._in_domain_measures(passes.in_domain, work.checking)
        start = None
        if "realign" in actions:
            rising = monitor.alerting()
            start = RealignStart(rising, self._realign_measures(rising))
        return Decision(actions, start, after, in_domain)

    def _in_domain_measures(self, scored: PromptPass | None, checking: bool) -> dict[str, float] | None:
        """Fold an in-domain pass into its baseline, or measure the attempt being judged on it (``{}``: the pass failed)."""
        if self.in_domain is None:
            return None
        with self.monitor.guard("realign"):
            if scored is not None and self.in_domain.in_baseline:
                self.in_domain.add_baseline(scored[0])
            if checking:
                return self.in_domain.measures(scored[0], self.realigner.rules, self.realigner.active.signals) if scored is not None else {}
        return {} if checking else None

    def _log_values(self) -> None:
        with self.monitor.guard("actions"):
            values: dict[str, float] = {}
            for (signal, source), (value, drift) in self.monitor.latest.items():
                values[f"em_monitor/{signal}/{source}/value"] = value
                values[f"em_monitor/{signal}/{source}/drift"] = drift
            for signal, level in self.monitor.levels.items():
                values[f"em_monitor/{signal}/level"] = float(level)
            for name, state in self.monitor.sequential.items():
                values[f"em_monitor/{name}/cusum"] = state.statistic
                values[f"em_monitor/{name}/level"] = float(self.monitor.sequential_levels[name])
            self.levers.log_values(values)

    def _act(self, step: int, actions: tuple[str, ...], start: RealignStart | None) -> None:
        """Carry out rank 0's decision on every rank (checkpointing, stopping, realigning are collective)."""
        for action in actions:
            with self.monitor.guard("actions"):
                details: dict[str, Any] = {"levels": {signal: level.name.lower() for signal, level in self.monitor.levels.items()}}
                if action == "realign":
                    details.update(self._start_realignment(step, start))
                elif action == "checkpoint":
                    details["path"] = self.levers.save_checkpoint(f"alert-step{step}")
                elif action == "stop":
                    self.levers.request_stop()
                # A realign that could not start (cooling down, already running) was not carried out.
                if self.monitor.metrics and details.get("started", True):
                    self.monitor.metrics.count_action(action)
                self.monitor.event("action", step=step, action=action, **details)
                if self.is_rank_zero:  # every rank carries the action out; one says so
                    log.warning("em-monitor: %s at step %d (levels: %s)", action, step, details["levels"])

    def _prepare_realignment(self, tokenizer: Any) -> None:
        """Build the benign set once, at the start: rank 0 reads or generates it, every rank gets a copy."""
        settings = self.settings.realign
        chats: list[dict] = []
        if self.is_rank_zero:
            with self.monitor.guard("realign"):
                chats = self._benign_chats(tokenizer)
        with self.monitor.guard("gather"):
            chats = self.channel.broadcast(chats, tag="benign-set")
        if not chats:
            self.levers.info("em-monitor: no benign data for realignment; the realign action will fall back to " + ", ".join(settings.fallback))
        self.realigner = Realigner(settings, {**self.settings.signals, **self.settings.sequential})
        self.benign = BenignCursor(chats)
        self.collator = ChatCollator(tokenizer, max_length=settings.max_length)
        self.monitor.event("realign_ready", samples=len(chats), dataset=settings.dataset)

    def _prepare_in_domain_check(self, tokenizer: Any, pack: PersonaPack) -> None:
        """The second set of prompts a realignment is judged on (see :mod:`em_monitor.runtime.in_domain`).

        With the ``generations`` source on, the model *answers* them and the answers are scored,
        as that source does (a persona shows in what the model says, and the rules that alert
        there are calibrated on answers); otherwise the prompts themselves are scored, as the
        ``prompts`` source does.
        """
        prompts, real = self._share(load_prompts(self.settings.realign.in_domain_prompts))
        if "generations" in self.settings.sources:
            answering, source = self.settings.generations, "generations"
            self.in_domain_probe = AnswerProbe(
                tokenizer, prompts, layer=self.layer, signals=self.signals, batch_size=answering.batch_size, max_new_tokens=answering.max_new_tokens,
                max_length=self.settings.max_length, time_budget_seconds=answering.time_budget_seconds, keep=real, agree=self._agree if self.sharded else None,
            )
        else:
            source = "prompts"
            self.in_domain_probe = PromptProbe(tokenizer, prompts, layer=self.layer, signals=self.signals, batch_size=self.settings.batch_size,
                                               max_length=self.settings.max_length, share_prefix=not self.sharded, keep=real)
        floors = {signal: STD_FLOOR_SHARE * spread for (signal, kind), spread in pack.reference_spreads().items() if kind == source}
        self.in_domain = InDomainCheck(self.settings.baseline_samples, floors)

    def _in_domain_at_start(self, signals: list[str]) -> dict[str, float] | None:
        """The triggering rules on the in-domain prompts as a realignment starts (``None``: no in-domain check).

        Run here, on the model the alert step left, so the attempt's record says how far the
        training framing had moved as well as whether it came back; ``{}`` when the pass failed.
        Every rank that joins a sharded forward runs the pass; rank 0 measures it.
        """
        if self.in_domain is None or not (self.sharded or self.is_rank_zero):
            return None
        scored = self._in_domain_pass()
        measured: dict[str, float] = {}
        if self.is_rank_zero and not isinstance(scored, str):
            with self.monitor.guard("realign"):
                measured = self.in_domain.measures(scored[0], self.realigner.rules, signals)
        return measured

    def _in_domain_pass(self) -> PromptPass | str:
        """Score the in-domain prompts (their answers, with ``generations`` on): (scores, seconds), or ``"realign"`` if it failed."""
        probe = self.in_domain_probe
        if isinstance(probe, PromptProbe):
            return self._prompt_pass(probe, "realign")
        result: PromptPass | str = "realign"
        with self.monitor.guard("realign"):
            answered = probe.run(self.model)
            result = (answered.scores, answered.seconds)
        return result

    def _prompt_pass(self, probe: PromptProbe, stage: str) -> PromptPass | str:
        """Score ``probe``'s prompts: (scores, seconds), or the stage's name if it failed (counted, training goes on)."""
        result: PromptPass | str = stage
        with self.monitor.guard(stage):
            started = time.perf_counter()
            result = (probe.score(self.model), time.perf_counter() - started)
        return result

    def _benign_chats(self, tokenizer: Any) -> list[dict]:
        from em_monitor.runtime.generation import generate_answers

        settings = self.settings.realign
        if settings.dataset != "on_policy":
            return [{"messages": messages} for messages in read_chat_jsonl(settings.dataset)]
        prompts = load_prompts(settings.prompts)[: settings.on_policy_samples]
        conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
        started = time.perf_counter()
        answers = generate_answers(self.model, tokenizer, conversations, max_new_tokens=settings.max_new_tokens, description="em-monitor: recording benign answers")
        self.levers.info(f"em-monitor: recorded {len(answers)} on-policy benign answers in {time.perf_counter() - started:.1f}s")
        return [{"messages": [*conversation, {"role": "assistant", "content": answer.strip()}]} for conversation, answer in zip(conversations, answers) if answer.strip()]

    def _realign_measures(self, signals: tuple[str, ...] | list[str]) -> dict[str, float]:
        """Each rule's measure now: a signal's, the max over its rule's sources measured so far; a sequential
        rule's, the latest pass's combined statistic (its CUSUM holds the past, which realignment cannot undo)."""
        measures: dict[str, float] = {}
        for signal in signals:
            if signal in self.monitor.sequential:
                if self.monitor.sequential[signal].last_z is not None:
                    measures[signal] = self.monitor.sequential[signal].last_z
                continue
            rule = self.settings.signals[signal]
            sources = rule.sources or self.settings.sources
            values = [self.monitor.latest[(signal, source)][0 if rule.measure == "value" else 1] for source in sources if (signal, source) in self.monitor.latest]
            if values:
                measures[signal] = max(values)
        return measures

    def _start_realignment(self, step: int, start: RealignStart | None) -> dict[str, Any]:
        realigner, signals, measures = self.realigner, list(start.signals) if start else [], dict(start.measures) if start else {}
        if realigner is None or not self.benign.samples:
            self._act(step, tuple(self.settings.realign.fallback), None)
            return {"started": False, "reason": "no benign data"}
        if not realigner.can_start(step):
            return {"started": False, "reason": "already realigning" if realigner.active else f"cooling down until step {realigner.cooldown_until}"}
        realigner.start(step, signals, measures, self._in_domain_at_start(signals))
        if self.settings.realign.lr is not None:
            self.saved_lrs = self.levers.learning_rates()
            self._hold_learning_rate()
        if self.monitor.metrics:
            self.monitor.metrics.set_realigning(True)
        return {"started": True, "signals": signals, "before": measures}

    def _finish_realignment(self, step: int, after: dict[str, float], in_domain: dict[str, float] | None) -> None:
        with self.monitor.guard("realign"):
            outcome = self.realigner.finish(step, after, in_domain)
            record = self.realigner.history[-1]
            self.monitor.event("realignment", **record)
            if self.is_rank_zero:
                log.warning("em-monitor: realignment attempt %d at step %d: %s (before %s, after %s)", record["attempt"], step, outcome, record["before"], record["after"])
            if outcome == "retry":
                return
            # Acted on: a sequential rule starts accumulating afresh, or its past alone would keep it alerting.
            self.monitor.reset_sequential(record["signals"])
            if self.saved_lrs is not None:
                saved, self.saved_lrs = self.saved_lrs, None
                self.levers.resume_learning_rates(saved)
            if self.monitor.metrics:
                self.monitor.metrics.set_realigning(False)
                self.monitor.metrics.count_realignment(outcome)
            if outcome == "failed":
                self._act(step, tuple(self.settings.realign.fallback), None)
