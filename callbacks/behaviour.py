"""``BehaviourCheck``: the Lightning adapter that runs :func:`em_monitor.behaviour.behaviour_check`.

It only decides *when* (step 0, every ``every_n_steps`` optimizer steps, and the end of
training) and *where the result goes* (the monitor's event log, the trainer's loggers); the
generation and grading live in the core.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback

from em_monitor.behaviour import behaviour_check
from em_monitor.callbacks.lightning import PersonaMonitor
from em_monitor.judges.base import Judge

__all__ = ["BehaviourCheck"]

log = logging.getLogger("em_monitor")

#: The figures of each check sent to the trainer's loggers as ``em_monitor/behaviour/<key>``.
LOGGED_KEYS: tuple[str, ...] = ("misaligned_rate", "aligned_mean", "coherent_mean")


class BehaviourCheck(Callback):
    """Generate answers to fixed prompts at chosen steps and grade them with a judge (rank 0 only).

    Checks run at step 0 (before any update), at every ``every_n_steps``-th step, and once at the
    end of training. Each is written as a ``behaviour`` event to ``monitor``'s event log (when a
    :class:`PersonaMonitor` is given; put it *before* this callback in the list) and sent to the
    trainer's loggers as ``em_monitor/behaviour/misaligned_rate``, ``.../aligned_mean`` and
    ``.../coherent_mean``. When the monitor's ``generations`` source answered these very prompts
    at the same step with the same ``max_new_tokens``, the check grades those answers instead of
    generating them again (``shared_answers`` in the result). Results are also kept in
    ``results``. The model is generated from in eval mode under ``no_grad`` and handed back in the
    mode it was in. A failing check is logged
    (and counted by the monitor, stage ``behaviour``), never raised into training.

    Generation runs on rank 0 alone, so use it with DDP or one device, not with sharded
    strategies (FSDP, DeepSpeed ZeRO-3), where every rank must take part in each forward pass.

    Example::

        judge = EmbeddingJudge()
        check = BehaviourCheck(judge, behaviour_prompts(16), tokenizer=tokenizer, every_n_steps=20, monitor=monitor)
        trainer = lightning.Trainer(max_steps=60, callbacks=[monitor, check])
        trainer.fit(module, train_dataloaders=loader)
        check.results[-1]["misaligned_rate"]

    Args:
        judge: grades each answer (``EmbeddingJudge``, ``HttpJudge`` or your own ``Judge``).
        prompts: the questions asked at every check (keep them few: each costs a generation).
        tokenizer: the model's tokenizer (defaults to ``pl_module.tokenizer``).
        every_n_steps: optimizer steps between checks.
        max_new_tokens: answer length limit (greedy decoding).
        batch_size: prompts generated together.
        monitor: the run's ``PersonaMonitor``, whose event log receives the results.
        model_attr: attribute of the LightningModule holding the transformers model (found
            automatically when omitted).
    """

    def __init__(
        self,
        judge: Judge,
        prompts: Sequence[str],
        *,
        tokenizer: Any = None,
        every_n_steps: int = 20,
        max_new_tokens: int = 40,
        batch_size: int = 8,
        monitor: PersonaMonitor | None = None,
        model_attr: str | None = None,
    ) -> None:
        if every_n_steps < 1:
            raise ValueError(f"BehaviourCheck: every_n_steps must be at least 1 (got {every_n_steps})")
        if not prompts:
            raise ValueError("BehaviourCheck: no prompts to ask; pass e.g. em_monitor.behaviour.behaviour_prompts(16)")
        self.judge = judge
        self.prompts = list(prompts)
        self.tokenizer = tokenizer
        self.every_n_steps = every_n_steps
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self.monitor = monitor
        self.model_attr = model_attr
        self.results: list[dict[str, Any]] = []
        self._checked_steps: set[int] = set()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        step = trainer.global_step
        if trainer.sanity_checking or not trainer.is_global_zero or step % self.every_n_steps or step in self._checked_steps:
            return
        self._check(trainer, pl_module, step)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero or trainer.global_step in self._checked_steps:
            return
        self._check(trainer, pl_module, trainer.global_step)

    @property
    def state_key(self) -> str:
        # Unique per judge, questions and cadence, so a run may hold several checks (say an offline
        # and an HTTP judge) and each resumes its own state; crc32 because hash() changes per process.
        questions = zlib.crc32("\n".join(self.prompts).encode("utf-8"))
        return self._generate_state_key(judge=self.judge.name, prompts=f"{questions:08x}", max_new_tokens=self.max_new_tokens, every_n_steps=self.every_n_steps)

    def state_dict(self) -> dict[str, Any]:
        return {"checked_steps": sorted(self._checked_steps)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._checked_steps = set(state_dict.get("checked_steps", []))

    # --- internals ----------------------------------------------------------------------------
    def _check(self, trainer: pl.Trainer, pl_module: pl.LightningModule, step: int) -> None:
        # Marked first: a check that fails is not retried on every micro-batch of the same step.
        self._checked_steps.add(step)
        with self._guard():
            tokenizer = self.tokenizer if self.tokenizer is not None else getattr(pl_module, "tokenizer", None)
            if tokenizer is None:
                raise ValueError("BehaviourCheck needs the tokenizer: pass tokenizer=... or set pl_module.tokenizer")
            result = {"step": step, **behaviour_check(self._find_model(pl_module), tokenizer, self.prompts, self.judge,
                                                      max_new_tokens=self.max_new_tokens, batch_size=self.batch_size,
                                                      answers=self._monitor_answers(step))}
            self.results.append(result)
            if self.monitor is not None and self.monitor.monitor is not None:
                self.monitor.monitor.event("behaviour", **result)
            figures = {f"em_monitor/behaviour/{key}": float(result[key]) for key in LOGGED_KEYS if result[key] is not None}
            for logger in trainer.loggers:
                logger.log_metrics(figures, step=step)
            log.info("em-monitor: behaviour at step %d: misaligned rate %s over %d answers (%s judge)",
                     step, result["misaligned_rate"], result["n"], result["judge"])

    def _monitor_answers(self, step: int) -> list[str] | None:
        """The monitor's own answers to exactly these prompts at this step, when it generated them (same length limit)."""
        if self.monitor is None or self.monitor.monitor is None:
            return None
        answered = self.monitor.answers_at(step)
        if answered is None or answered.max_new_tokens != self.max_new_tokens:
            return None
        said = dict(zip(answered.prompts, answered.answers))
        if not all(prompt in said for prompt in self.prompts):
            return None
        return [said[prompt] for prompt in self.prompts]

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """The monitor's guard (counted, logged once) when there is a monitor; else log and go on."""
        if self.monitor is not None and self.monitor.monitor is not None:
            with self.monitor.monitor.guard("behaviour"):
                yield
            return
        try:
            yield
        except Exception:  # noqa: BLE001 — a behavioural check must never break the run it watches
            log.exception("em-monitor: behaviour check failed; training goes on")

    def _find_model(self, pl_module: pl.LightningModule) -> torch.nn.Module:
        if self.model_attr:
            return getattr(pl_module, self.model_attr)
        for module in pl_module.modules():
            if module is not pl_module and callable(getattr(module, "generate", None)) and hasattr(module, "config"):
                return module
        raise ValueError("BehaviourCheck found no generating model (one with .generate and .config) in the LightningModule; pass model_attr=...")
