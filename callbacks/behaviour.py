"""``BehaviourCheck``: the Lightning adapter around :class:`em_monitor.runtime.behaviour.BehaviourSchedule`.

It only maps Lightning's hooks onto the schedule (rank 0, each step's first batch, the end of
training) and sends the figures to the trainer's loggers; when and how to check lives in the core.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
from em_monitor.callbacks.lightning import PersonaMonitor, find_model, sharded_by
from lightning.pytorch.callbacks import Callback

from em_monitor.judges.base import Judge
from em_monitor.runtime.sharding import check_sharding
from em_monitor.runtime.behaviour import BehaviourSchedule

__all__ = ["BehaviourCheck"]


class BehaviourCheck(Callback):
    """Generate answers to fixed prompts at chosen steps and grade them with a judge (rank 0 only).

    Checks run at step 0 (before any update), at every ``every_n_steps``-th step, and once at the
    end of training; see :class:`~em_monitor.runtime.behaviour.BehaviourSchedule`. Results go to
    ``monitor``'s event log (put the :class:`PersonaMonitor` *before* this callback in the list, so
    the check can grade the monitor's own answers of the same step), to the trainer's loggers as
    ``em_monitor/behaviour/misaligned_rate``, ``.../aligned_mean`` and ``.../coherent_mean``, and to
    ``results``. The model is generated from in eval mode under ``no_grad`` and handed back in the
    mode it was in.

    Generation runs on rank 0 alone, so use it with DDP or one device, not with sharded
    strategies (FSDP, DeepSpeed ZeRO-3), where every rank must take part in each forward pass (refused at setup there).

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

    def __init__(self, judge: Judge, prompts: Sequence[str], *, tokenizer: Any = None, every_n_steps: int = 20, max_new_tokens: int = 40,
                 batch_size: int = 8, monitor: PersonaMonitor | None = None, model_attr: str | None = None) -> None:
        self.schedule = BehaviourSchedule(judge, prompts, every_n_steps=every_n_steps, max_new_tokens=max_new_tokens, batch_size=batch_size)
        self.tokenizer = tokenizer
        self.monitor = monitor
        self.model_attr = model_attr

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.schedule.results

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit":
            check_sharding(["the behavioural check"], sharded_by(trainer.strategy), "BehaviourCheck")

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if not trainer.sanity_checking and trainer.is_global_zero and self.schedule.due(trainer.global_step):
            self._check(trainer, pl_module)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero and self.schedule.due(trainer.global_step, final=True):
            self._check(trainer, pl_module)

    @property
    def state_key(self) -> str:
        return self._generate_state_key(**self.schedule.identity())

    def state_dict(self) -> dict[str, Any]:
        return self.schedule.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.schedule.load_state_dict(state_dict)

    def _check(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        step = trainer.global_step
        tokenizer = self.tokenizer if self.tokenizer is not None else getattr(pl_module, "tokenizer", None)
        controller = self.monitor.controller if self.monitor is not None else None
        figures = self.schedule.check(step, find_model(pl_module, self.model_attr), tokenizer, controller)
        for logger in trainer.loggers:
            logger.log_metrics(figures, step=step)
