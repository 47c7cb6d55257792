"""``PersonaMonitor``: the Lightning adapter around :class:`em_monitor.monitor.Monitor`.

It only translates trainer events into core calls: when to sample, how to capture the training
forward pass, and how to carry out actions (checkpoint, stop) the way Lightning expects.
"""

from __future__ import annotations

import logging
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info

from em_monitor.capture import capture_residual, check_layer, decoder_blocks, hidden_size
from em_monitor.chat import ChatCollator, read_chat_jsonl, scored_token_mask
from em_monitor.config import MonitorConfig, check_signal_names, load_config
from em_monitor.drift import STD_FLOOR_SHARE, RunningStats
from em_monitor.events import EventLog
from em_monitor.endpoint import tls_context
from em_monitor.export import MetricsServer, MonitorMetrics
from em_monitor.monitor import Monitor
from em_monitor.prompt_probe import PromptProbe
from em_monitor.own_answers import AnswerPass, AnswerProbe
from em_monitor.packs import PersonaPack, load_pack
from em_monitor.prompts import load_prompts
from em_monitor.push import GatewayPusher
from em_monitor.realign import BenignCursor, Realigner

__all__ = ["PersonaMonitor"]

log = logging.getLogger("em_monitor")


class _TrainScores(NamedTuple):
    """Every rank's training-batch scores, concatenated in rank order, as rank 0 sees them."""

    scores: dict[str, torch.Tensor]
    origins: list[tuple[int, int]]  # (rank, index in that rank's batch) per concatenated sample
    seconds: float


def _gather_objects(trainer: pl.Trainer, payload: object) -> list[object]:
    """Every rank's ``payload``, in rank order (one collective; ``[payload]`` without distributed).

    Lightning's ``strategy.all_gather`` needs tensors of one shape on every rank, but the last
    batch of an epoch may be shorter and a rank whose capture failed sends nothing, so the
    scores travel as small CPU objects (a few floats per sample), as ``strategy.broadcast`` does.
    """
    if trainer.world_size == 1 or not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return [payload]
    gathered: list[object] = [None] * trainer.world_size
    torch.distributed.all_gather_object(gathered, payload)
    return gathered


class PersonaMonitor(Callback):
    """Watch persona signals while a Lightning module fine-tunes a transformers model.

    Every ``every_n_steps`` optimizer steps (and at every step until the baseline is complete)
    it scores the configured probe prompts, every ``train_batch.every_n_steps`` (by default the
    same) the training batch itself (from the activations of the training forward pass: no extra
    forward) and, with the ``generations`` source, every
    ``generations.every_n_steps`` the model's own greedy answers to the probe prompts (the answers
    of each pass go to the event log); it exports the signals to Prometheus, logs
    them with ``pl_module.log``, writes the event log, and runs the configured actions when a
    level rises.

    Under DDP every rank scores its own training batch and rank 0 gathers the scores, so the
    exported ``train_batch`` series and flag counts cover the whole global batch; rank 0 alone
    scores the probe prompts and generates answers, serves the endpoint, pushes to a Pushgateway and decides.

    Logged keys: ``em_monitor/<signal>/<source>/value`` and ``em_monitor/<signal>/<source>/drift``
    per sampled source, and ``em_monitor/<signal>/level``.

    Example::

        monitor = PersonaMonitor("monitor.yaml", tokenizer=tokenizer)
        trainer = lightning.Trainer(max_steps=200, callbacks=[monitor])
        trainer.fit(module, train_dataloaders=loader)
        monitor.metrics_url  # where Prometheus scraped it during the run

    Args:
        config: path to a monitor YAML file, or a validated :class:`MonitorConfig`.
        tokenizer: the model's tokenizer (defaults to ``pl_module.tokenizer``).
        model_attr: attribute of the LightningModule holding the transformers model (found
            automatically when omitted).
    """

    def __init__(self, config: str | Path | MonitorConfig, *, tokenizer: Any = None, model_attr: str | None = None) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.model_attr = model_attr
        self.monitor: Monitor | None = None
        self.server: MetricsServer | None = None
        self.pusher: GatewayPusher | None = None
        self._settings: MonitorConfig | None = None
        self._pack: PersonaPack | None = None
        self._probe: PromptProbe | None = None
        self._answer_probe: AnswerProbe | None = None
        self._model: torch.nn.Module | None = None
        self._special_ids: list[int] = []
        self._signals = None
        #: The open capture of this step's training forward (its hook comes off when the stack closes).
        self._capture: ExitStack | None = None
        self._buffer = None
        self._prompt_scores: tuple[dict[str, torch.Tensor], float] | None = None
        self._answers: AnswerPass | None = None
        self._last_answers: tuple[int, AnswerPass] | None = None
        self._due_step: int | None = None
        self._sampled_step = -1
        self._pending_state: dict | None = None
        self._realigner: Realigner | None = None
        self._benign: BenignCursor | None = None
        self._collator: ChatCollator | None = None
        self._saved_lrs: list[list[float]] | None = None

    def answers_at(self, step: int) -> AnswerPass | None:
        """The `generations` pass taken at ``step`` (before that step's update), if one ran.

        Why public: a behavioural check at the same step can grade these answers instead of
        generating them a second time — generation is the costliest thing either does.
        """
        if self._last_answers is None or self._last_answers[0] != step:
            return None
        return self._last_answers[1]

    # --- Lightning hooks ------------------------------------------------------------------
    @property
    def state_key(self) -> str:
        run = self._settings.run if self._settings else getattr(self.config, "run", str(self.config))
        return self._generate_state_key(run=run)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit":
            return
        # Config and pack problems must stop the run here, before any training step.
        self._settings = self.config if isinstance(self.config, MonitorConfig) else load_config(self.config)
        self._pack = load_pack(self._settings.pack)
        check_signal_names(self._settings, [signal.name for signal in self._pack.spec.signals], str(self.config))

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The model may only exist after `configure_model`, which runs after `setup`.
        settings, pack = self._settings, self._pack
        self._model = self._find_model(pl_module)
        pack.check_width(hidden_size(self._model))
        check_layer(self._layer, len(decoder_blocks(self._model)), field="layer" if settings.layer is not None else f"{pack.root / 'pack.yaml'}: layer")
        signals = pack.build_signals()
        tokenizer = self.tokenizer if self.tokenizer is not None else getattr(pl_module, "tokenizer", None)
        needs_tokenizer = sorted({"prompts", "generations"} & set(settings.sources))
        if needs_tokenizer and tokenizer is None:
            raise ValueError(f"PersonaMonitor needs the tokenizer for the {needs_tokenizer} source(s): pass tokenizer=... or set pl_module.tokenizer")
        if "prompts" in settings.sources:
            self._probe = PromptProbe(tokenizer, load_prompts(settings.prompts), layer=self._layer, signals=signals, batch_size=settings.batch_size, max_length=settings.max_length)
        if "generations" in settings.sources:
            answering = settings.generations
            self._answer_probe = AnswerProbe(
                tokenizer, load_prompts(answering.prompts or settings.prompts)[: answering.max_prompts], layer=self._layer, signals=signals,
                batch_size=answering.batch_size, max_new_tokens=answering.max_new_tokens, max_length=settings.max_length,
                time_budget_seconds=answering.time_budget_seconds,
            )
        self._special_ids = list(getattr(tokenizer, "all_special_ids", []) or [])
        self._signals = signals
        metrics = events = None
        if trainer.is_global_zero:
            metrics = MonitorMetrics(settings.run, settings.sources, signals.kinds)
            events = EventLog(settings.event_log, settings.run) if settings.event_log else None
        self.monitor = Monitor(settings, signals.kinds, metrics=metrics, events=events, stored_baselines=self._stored_baselines(),
                               std_floors={key: STD_FLOOR_SHARE * spread for key, spread in pack.reference_spreads().items()})
        if metrics is not None:
            self._start_export(metrics)
        self.monitor.event("start", step=trainer.global_step, pack=str(pack.root), layer=self._layer, signals=signals.kinds, sources=list(settings.sources),
                           baseline_samples=settings.baseline_samples)
        if "realign" in settings.actions.on_warn + settings.actions.on_critical:
            self._prepare_realignment(trainer, tokenizer)
        if self._pending_state is not None:
            self._restore(self._pending_state)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        swapped = self._swap_in_benign(trainer, batch)
        if not self._due(trainer):
            return
        # Every source sees the model as it is before this step's update.
        self._due_step = step = self.monitor.current_step = trainer.global_step
        checking = self._realignment_check_due
        if self._probe is not None and trainer.is_global_zero and (self.monitor.is_sampling_step(step) or checking):
            with self.monitor.guard("prompts"):
                started = time.perf_counter()
                self._prompt_scores = (self._probe.score(self._model), time.perf_counter() - started)
        if self._answer_probe is not None and trainer.is_global_zero and self._generation_due(trainer.global_step):
            with self.monitor.guard("generations"):
                self._answers = self._answer_probe.run(self._model)
                self._last_answers = (trainer.global_step, self._answers)
        # Every rank captures its own batch; rank 0 gathers the scores (see `_gather_train_scores`).
        if "train_batch" in self._settings.sources and not swapped and (self.monitor.is_train_batch_step(step) or checking):
            with self.monitor.guard("capture"):
                # The stack is kept only once the hook is on: a capture that failed leaves nothing to read or release.
                stack = ExitStack()
                self._buffer = stack.enter_context(capture_residual(self._model, self._layer))
                self._capture = stack

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._due_step is None:
            return
        # Lightning has already advanced global_step past the optimizer step: use the step sampled.
        step, self._due_step = self._due_step, None
        self._sampled_step = step
        train_scores = self._gather_train_scores(trainer, batch)
        decision: dict[str, Any] = {}
        if trainer.is_global_zero:
            with self.monitor.guard("decide"):
                decision = self._decide(step, pl_module, train_scores)
        # Every rank reaches the broadcast whatever failed above: a rank that skipped it would leave the others waiting.
        with self.monitor.guard("gather"):
            decision = trainer.strategy.broadcast(decision, src=0)
        if decision.get("after") is not None:
            self._finish_realignment(trainer, step, decision["after"])
        self._act(trainer, step, decision.get("actions", []), decision.get("before", {}))
        if self.pusher is not None:
            with self.monitor.guard("push"):
                self.pusher.request()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.monitor is not None:
            with self.monitor.guard("teardown"):
                self._release_capture()
        self._due_step = None
        self._prompt_scores = self._answers = None

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage != "fit" or self.monitor is None:
            return
        # Each part is guarded on its own, so one failing (a final push to a gateway that is down) cannot skip the rest,
        # and nothing raises out of fit() after training finished: the user's code after it (saving the model) must run.
        with self.monitor.guard("teardown"):
            self._release_capture()
        server, self.server = self.server, None
        if server is not None:
            with self.monitor.guard("teardown"):
                server.close()
        pusher, self.pusher = self.pusher, None
        if pusher is not None:
            with self.monitor.guard("push"):
                pusher.close(delete=self._settings.prometheus.delete_on_end)
        if self.monitor.events is not None:
            self.monitor.events.close()

    def state_dict(self) -> dict[str, Any]:
        if self.monitor is None:
            return {}
        state: dict[str, Any] = {}
        # A failure here must not fail the user's checkpoint: it is saved without the monitor's state (counted).
        with self.monitor.guard("state"):
            state = {"monitor": self.monitor.state_dict(), "sampled_step": self._sampled_step}
            if self._realigner is not None:
                state["realign"] = {**self._realigner.state_dict(), "cursor": self._benign.position, "saved_lrs": self._saved_lrs}
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        if self.monitor is None:
            self._pending_state = state_dict
        else:
            self._restore(state_dict)

    # --- public helpers -----------------------------------------------------------------------
    @property
    def metrics_url(self) -> str | None:
        """The scrape URL of the running endpoint (``None`` when not serving)."""
        return self.server.url if self.server else None

    @property
    def realigner(self) -> Realigner | None:
        """The realignment state (``None`` unless an action list contains ``realign``)."""
        return self._realigner

    # --- internals ------------------------------------------------------------------------------
    @property
    def _layer(self) -> int:
        return self._settings.layer if self._settings.layer is not None else self._pack.layer

    def _due(self, trainer: pl.Trainer) -> bool:
        """A sampling step not yet sampled (with gradient accumulation a step spans several batches)."""
        return (
            self.monitor is not None
            and not trainer.sanity_checking
            and trainer.global_step != self._sampled_step
            and (self.monitor.is_sampling_step(trainer.global_step) or self.monitor.is_train_batch_step(trainer.global_step)
                 or self._realignment_check_due)
        )

    @property
    def _realignment_check_due(self) -> bool:
        """A realignment attempt has ended and its verdict needs fresh scores from every source."""
        return self._realigner is not None and self._realigner.check_due

    def _generation_due(self, step: int) -> bool:
        """Its own cadence, and every realignment check: the verdict should weigh what the model says now."""
        return self.monitor.is_generation_step(step) or self._realignment_check_due

    def _find_model(self, pl_module: pl.LightningModule) -> torch.nn.Module:
        if self.model_attr:
            return getattr(pl_module, self.model_attr)
        for module in pl_module.modules():
            config = getattr(module, "config", None)
            if config is not None and hasattr(config, "num_hidden_layers") and hasattr(config, "hidden_size"):
                return module
        raise ValueError("PersonaMonitor found no transformers model in the LightningModule; pass model_attr='<attribute name>'")

    def _stored_baselines(self) -> dict[str, dict[str, RunningStats]]:
        """Prompt baselines recorded in the pack, used only when this run asks the same prompts.

        A baseline is a statistic of specific inputs: the pack's prompt-source baseline is valid
        for a run only if the run's probe prompts are the set the pack was measured on.
        """
        if "prompts" not in self._settings.sources or self._settings.prompts != self._pack.spec.built.get("prompts"):
            return {}
        return {
            spec.name: {"prompts": RunningStats.from_mean_std(stats.mean, stats.std, stats.count)}
            for spec in self._pack.spec.signals
            if (stats := spec.baseline.get("prompts")) is not None
        }

    def _release_capture(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.close()

    def _gather_train_scores(self, trainer: pl.Trainer, batch: Any) -> _TrainScores | None:
        """Score this rank's training batch, then hand every rank's scores to rank 0 (``None`` elsewhere).

        Every rank calls this at the same sampling steps, whether or not its own capture worked,
        because the gather is a collective: a rank that skipped it would leave the others waiting.
        A rank whose scoring failed sends the stage name instead, so rank 0, which alone holds
        the metrics, counts that failure too (rank 0's own are counted by its guard).
        """
        if "train_batch" not in self._settings.sources:
            return None
        started = time.perf_counter()
        local: dict[str, torch.Tensor] | str | None = None
        if self._capture is not None:
            local = "score"
            with self.monitor.guard("score"):
                self._release_capture()
                activations = self._buffer.activations
                if activations is None:
                    raise RuntimeError(f"the training forward never reached decoder block {self._layer}")
                mask = scored_token_mask(batch, self._special_ids).to(activations.device)
                local = {name: scores.detach().float().cpu() for name, scores in self._signals.score(activations, mask).items()}
        per_rank: list[object] = []
        with self.monitor.guard("gather"):
            per_rank = _gather_objects(trainer, local)
        if not trainer.is_global_zero or not per_rank:
            return None
        for stage in per_rank[1:]:
            if isinstance(stage, str) and self.monitor.metrics:
                self.monitor.metrics.count_error(stage)
        ranks = [(rank, scores) for rank, scores in enumerate(per_rank) if isinstance(scores, dict) and scores]
        if not ranks:
            return None
        merged = {name: torch.cat([scores[name] for _, scores in ranks]) for name in ranks[0][1]}
        origins = [(rank, index) for rank, scores in ranks for index in range(len(next(iter(scores.values()))))]
        return _TrainScores(merged, origins, time.perf_counter() - started)

    def _start_export(self, metrics: MonitorMetrics) -> None:
        """Rank 0: serve the endpoint (HTTPS and basic auth as configured) and start the Pushgateway pusher."""
        settings = self._settings.prometheus
        if settings.enabled:
            tls = tls_context(settings.tls.cert_file, settings.tls.key_file) if settings.tls else None
            credentials = (settings.basic_auth.username, settings.basic_auth.password()) if settings.basic_auth else None
            if credentials and tls is None:
                log.warning("em-monitor: prometheus.basic_auth without prometheus.tls sends the password in clear text; add a tls section")
            self.server = metrics.serve(settings.addr, settings.port, tls=tls, credentials=credentials)
            rank_zero_info(f"em-monitor: metrics at {self.metrics_url}")
        if settings.pushgateway:
            self.pusher = GatewayPusher(
                metrics.registry, settings.pushgateway, job=settings.job, grouping_key={"run": self._settings.run},
                timeout=settings.push_timeout, on_error=lambda error: self.monitor.record_error("push", error),
            ).start()
            rank_zero_info(f"em-monitor: pushing metrics to {settings.pushgateway} (job {settings.job}, run {self._settings.run})")

    def _decide(self, step: int, pl_module: pl.LightningModule, train_scores: _TrainScores | None) -> dict[str, Any]:
        """Rank 0's decision for this step, broadcast to every rank: actions, and realignment inputs."""
        actions = self._observe(step, pl_module, train_scores)
        decision: dict[str, Any] = {"actions": actions}
        realigner = self._realigner
        if realigner is not None and realigner.check_due:
            decision["after"] = self._realign_measures(realigner.active.signals)
        if "realign" in actions:
            rising = [signal for signal, level in self.monitor.levels.items() if level > 0 and signal in self._settings.signals]
            decision["before"] = {"signals": rising, "measures": self._realign_measures(rising)}
        return decision

    def _observe(self, step: int, pl_module: pl.LightningModule, train_scores: _TrainScores | None) -> list[str]:
        """Fold this step's scores into the monitor; return the actions its level changes call for."""
        monitor, changes = self.monitor, []
        if self._prompt_scores is not None:
            (scores, seconds), self._prompt_scores = self._prompt_scores, None
            with monitor.guard("prompts"):
                changes += monitor.observe(step, "prompts", scores, seconds)
        if self._answers is not None:
            answers, self._answers = self._answers, None
            with monitor.guard("generations"):
                changes += monitor.observe_answers(step, answers)
        if train_scores is not None:
            with monitor.guard("score"):
                changes += monitor.observe(step, "train_batch", train_scores.scores, train_scores.seconds)
                monitor.flag_samples(step, train_scores.scores, origins=train_scores.origins)
        self._log_to_lightning(pl_module)
        return monitor.actions_for(changes)

    def _log_to_lightning(self, pl_module: pl.LightningModule) -> None:
        with self.monitor.guard("actions"):
            for (signal, source), (value, drift) in self.monitor.latest.items():
                pl_module.log(f"em_monitor/{signal}/{source}/value", value, rank_zero_only=True)
                pl_module.log(f"em_monitor/{signal}/{source}/drift", drift, rank_zero_only=True)
            for signal, level in self.monitor.levels.items():
                pl_module.log(f"em_monitor/{signal}/level", float(level), rank_zero_only=True)

    def _act(self, trainer: pl.Trainer, step: int, actions: list[str], before: dict[str, Any]) -> None:
        """Carry out rank 0's decision on every rank (checkpointing, stopping, realigning are collective)."""
        for action in actions:
            with self.monitor.guard("actions"):
                details: dict[str, Any] = {"levels": {signal: level.name.lower() for signal, level in self.monitor.levels.items()}}
                if action == "realign":
                    details.update(self._start_realignment(trainer, step, before))
                elif action == "checkpoint":
                    path = Path(trainer.default_root_dir) / "em_monitor" / f"alert-step{step}.ckpt"
                    trainer.save_checkpoint(path)
                    details["path"] = str(path)
                elif action == "stop":
                    trainer.should_stop = True
                # A realign that could not start (cooling down, already running) was not carried out.
                if self.monitor.metrics and details.get("started", True):
                    self.monitor.metrics.count_action(action)
                self.monitor.event("action", step=step, action=action, **details)
                log.warning("em-monitor: %s at step %d (levels: %s)", action, step, details["levels"])

    # --- realignment ------------------------------------------------------------------------
    def _prepare_realignment(self, trainer: pl.Trainer, tokenizer: Any) -> None:
        """Build the benign set once, at the start: rank 0 reads or generates it, every rank gets a copy."""
        settings = self._settings.realign
        chats: list[dict] = []
        if trainer.is_global_zero:
            with self.monitor.guard("realign"):
                chats = self._benign_chats(tokenizer)
        chats = trainer.strategy.broadcast(chats, src=0)
        if not chats:
            rank_zero_info("em-monitor: no benign data for realignment; the realign action will fall back to " + ", ".join(settings.fallback))
        self._realigner = Realigner(settings, self._settings.signals)
        self._benign = BenignCursor(chats)
        self._collator = ChatCollator(tokenizer, max_length=self._settings.realign.max_length)
        if self.monitor.events is not None:
            self.monitor.event("realign_ready", samples=len(chats), dataset=settings.dataset)

    def _benign_chats(self, tokenizer: Any) -> list[dict]:
        from em_monitor.generation import generate_answers

        settings = self._settings.realign
        if settings.dataset != "on_policy":
            return [{"messages": messages} for messages in read_chat_jsonl(settings.dataset)]
        prompts = load_prompts(settings.prompts)[: settings.on_policy_samples]
        conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
        started = time.perf_counter()
        answers = generate_answers(self._model, tokenizer, conversations, max_new_tokens=settings.max_new_tokens, description="em-monitor: recording benign answers")
        rank_zero_info(f"em-monitor: recorded {len(answers)} on-policy benign answers in {time.perf_counter() - started:.1f}s")
        return [{"messages": [*conversation, {"role": "assistant", "content": answer.strip()}]} for conversation, answer in zip(conversations, answers) if answer.strip()]

    def _realign_measures(self, signals: list[str]) -> dict[str, float]:
        """Each signal's alerting measure now: the max over its rule's sources measured so far."""
        measures: dict[str, float] = {}
        for signal in signals:
            rule = self._settings.signals[signal]
            sources = rule.sources or self._settings.sources
            values = [self.monitor.latest[(signal, source)][0 if rule.measure == "value" else 1] for source in sources if (signal, source) in self.monitor.latest]
            if values:
                measures[signal] = max(values)
        return measures

    def _start_realignment(self, trainer: pl.Trainer, step: int, before: dict[str, Any]) -> dict[str, Any]:
        realigner = self._realigner
        if realigner is None or not self._benign.samples:
            self._act(trainer, step, list(self._settings.realign.fallback), {})
            return {"started": False, "reason": "no benign data"}
        if not realigner.can_start(step):
            return {"started": False, "reason": "already realigning" if realigner.active else f"cooling down until step {realigner.cooldown_until}"}
        realigner.start(step, before.get("signals", []), before.get("measures", {}))
        self._set_realign_lr(trainer)
        if self.monitor.metrics:
            self.monitor.metrics.set_realigning(True)
        return {"started": True, "signals": before.get("signals", []), "before": before.get("measures", {})}

    def _swap_in_benign(self, trainer: pl.Trainer, batch: Any) -> bool:
        """Replace this step's batch, in place, with benign samples while a realignment trains."""
        if self._realigner is None or not self._realigner.training_on_benign or self.monitor is None:
            return False
        with self.monitor.guard("realign"):
            if not isinstance(batch, dict) or "input_ids" not in batch:
                raise TypeError("realignment needs dict batches with input_ids (as ChatCollator makes)")
            per_rank = int(batch["input_ids"].shape[0])
            benign = self._collator(self._benign.take(per_rank, rank=trainer.global_rank, world_size=trainer.world_size))
            device = batch["input_ids"].device
            for key in list(batch):
                if key not in benign:
                    del batch[key]
            batch.update({key: value.to(device) for key, value in benign.items()})
            self._realigner.consume(per_rank * trainer.world_size)
            return True
        return False

    def _finish_realignment(self, trainer: pl.Trainer, step: int, after: dict[str, float]) -> None:
        with self.monitor.guard("realign"):
            outcome = self._realigner.finish(step, after)
            record = self._realigner.history[-1]
            self.monitor.event("realignment", **record)
            log.warning("em-monitor: realignment attempt %d at step %d: %s (before %s, after %s)", record["attempt"], step, outcome, record["before"], record["after"])
            if outcome == "retry":
                return
            self._restore_lr(trainer)
            if self.monitor.metrics:
                self.monitor.metrics.set_realigning(False)
                self.monitor.metrics.count_realignment(outcome)
            if outcome == "failed":
                self._act(trainer, step, list(self._settings.realign.fallback), {})

    def _set_realign_lr(self, trainer: pl.Trainer) -> None:
        lr = self._settings.realign.lr
        if lr is None:
            return
        self._saved_lrs = [[group["lr"] for group in optimizer.param_groups] for optimizer in trainer.optimizers]
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr

    def _restore_lr(self, trainer: pl.Trainer) -> None:
        if self._saved_lrs is None:
            return
        for optimizer, lrs in zip(trainer.optimizers, self._saved_lrs):
            for group, lr in zip(optimizer.param_groups, lrs):
                group["lr"] = lr
        self._saved_lrs = None

    def _restore(self, state: dict[str, Any]) -> None:
        # A checkpoint whose monitor state does not fit (another config, another pack) resumes with fresh baselines.
        with self.monitor.guard("state"):
            self._restore_state(state)
        self._pending_state = None

    def _restore_state(self, state: dict[str, Any]) -> None:
        self.monitor.load_state_dict(state["monitor"])
        self._sampled_step = int(state["sampled_step"])
        if self._realigner is not None and "realign" in state:
            self._realigner.load_state_dict(state["realign"])
            self._benign.position = int(state["realign"]["cursor"])
            self._saved_lrs = state["realign"]["saved_lrs"]
            if self.monitor.metrics:
                self.monitor.metrics.set_realigning(self._realigner.active is not None)
