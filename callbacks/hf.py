"""``PersonaMonitorCallback``: the Hugging Face ``Trainer`` (and TRL ``SFTTrainer``) adapter around the controller.

Like the Lightning adapter, it only maps the Trainer's events onto
:class:`em_monitor.runtime.controller.Controller` calls and lends it the Trainer's levers: the process
group's collectives, ``TrainerControl`` (save, stop), the optimizer's learning rates, the
Trainer's own log. A callback is not given the batch, so a forward pre-hook on the model keeps
the inputs of the training forward (the train_batch source scores that same forward's
activations: no extra forward pass).

A callback cannot swap batches either, the lever the ``realign`` action needs; :func:`realigning`
adds it to a Trainer class (``realigning(transformers.Trainer)``, ``realigning(trl.SFTTrainer)``):
its ``training_step`` trains on the monitor's benign batch while a realignment runs. The monitor's
state travels in the Trainer's checkpoints (``trainer_state.json``, the ``ExportableState``
protocol) and comes back on ``train(resume_from_checkpoint=...)``.
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from transformers import (
    Trainer,
    TrainerCallback,
    TrainerControl,
    TrainerState,
    TrainingArguments,
)
from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled
from transformers.trainer_callback import ExportableState

from em_monitor.config import (
    MonitorConfig,
    check_signal_names,
    load_config,
    parse_config,
)
from em_monitor.judges.base import Judge
from em_monitor.packs import load_pack
from em_monitor.runtime.behaviour import BehaviourSchedule
from em_monitor.runtime.controller import Controller
from em_monitor.runtime.levers import (
    learning_rates,
    restore_learning_rates,
    set_learning_rates,
)
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.sharding import Sharding, check_sharding, rank_zero_passes

__all__ = ["BehaviourCheckCallback", "PersonaMonitorCallback", "RealignMixin", "realigning"]

#: The Trainer whose ``train`` is running with the realign lever (set by :class:`RealignMixin`),
#: so the callback can tell at start-up whether ``realign`` can be carried out. A context
#: variable, not an attribute of the callback: a resumed Trainer replaces its callbacks with new
#: instances (``restore_callback_states_from_checkpoint``) after ``train`` has begun.
_SWAPPING_TRAINER: contextvars.ContextVar[Trainer | None] = contextvars.ContextVar("em_monitor_swapping_trainer", default=None)


class _TrainerLevers:
    """The Trainer's levers, as the controller asks for them."""

    def __init__(self, args: TrainingArguments, optimizer: Any, scheduler: Any) -> None:
        self.args, self.optimizer, self.scheduler = args, optimizer, scheduler
        #: The TrainerControl and TrainerState of the hook being served (the Trainer may replace them between hooks).
        self.control: TrainerControl | None = None
        self.state: TrainerState | None = None
        #: Values for the Trainer's own log, merged into the next ``on_log``.
        self.pending_logs: dict[str, float] = {}

    @property
    def rank(self) -> int:
        return self.args.process_index

    @property
    def world_size(self) -> int:
        return self.args.world_size

    def save_checkpoint(self, name: str) -> str:
        # The Trainer saves at the end of this step, in its own layout (and with the monitor's state).
        self.control.should_save = True
        return str(Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}")

    def request_stop(self) -> None:
        self.control.should_training_stop = True

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        return [self.optimizer] if self.optimizer is not None else []

    def learning_rates(self) -> list[list[float]]:
        return learning_rates(self._optimizers())

    def set_learning_rates(self, rates: list[list[float]]) -> None:
        set_learning_rates(self._optimizers(), rates)

    def resume_learning_rates(self, saved: list[list[float]]) -> None:
        restore_learning_rates(self._optimizers(), [self.scheduler] if self.scheduler is not None else [], saved)

    def log_values(self, values: Mapping[str, float]) -> None:
        self.pending_logs.update(values)

    def info(self, message: str) -> None:
        if self.rank == 0:
            print(message, flush=True)


def sharded_by(args: TrainingArguments) -> Sharding | None:
    """How the Trainer shards parameters (every rank must join each forward), else None."""
    if args.fsdp or os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true"):
        return Sharding("FSDP (TrainingArguments.fsdp / accelerate)")
    if is_deepspeed_zero3_enabled():
        return Sharding("DeepSpeed ZeRO-3")
    return None


def _keep_inputs(store: dict) -> Any:
    """A forward pre-hook that keeps the training forward's inputs (the callback is never handed the batch).

    A ``response_mask`` (``ChatCollator``'s: each answer's own tokens, what the Lightning adapter
    scores too) is kept for scoring and taken out of the model's inputs, which need not accept it.
    Without one, the monitor scores the tokens ``labels`` marks.
    """

    def hook(_module: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict] | None:
        response_mask = kwargs.get("response_mask")
        if _module.training:
            store.clear()
            store.update({key: value for key, value in kwargs.items() if isinstance(value, torch.Tensor)})
            if args and "input_ids" not in store and isinstance(args[0], torch.Tensor):
                store["input_ids"] = args[0]
        if response_mask is None:
            return None
        return args, {key: value for key, value in kwargs.items() if key != "response_mask"}

    return hook


class PersonaMonitorCallback(TrainerCallback, ExportableState):
    """Watch persona signals while a Hugging Face ``Trainer`` or TRL ``SFTTrainer`` fine-tunes a model.

    The same monitor as the Lightning ``PersonaMonitor``, on the same controller: probe prompts,
    the training batch (from the training forward itself), the model's own answers, Prometheus,
    the event log, per-sample flags, and the ``log`` / ``checkpoint`` / ``stop`` actions (through
    ``TrainerControl``); ``realign`` with a Trainer class made by :func:`realigning`. Signals also
    go to the Trainer's log (``em_monitor/<signal>/<source>/value|drift``,
    ``em_monitor/<signal>/level``) at its ``logging_steps``. Under DDP (``torchrun``,
    ``accelerate launch``) every rank scores its own batch and rank 0 alone exports and decides.

    Example::

        monitor = PersonaMonitorCallback("monitor.yaml")
        trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[monitor])
        trainer.train()
        monitor.monitor.levels  # where each signal ended

    Resuming: the monitor's baselines, levels, counters and realignment state are saved in each
    Trainer checkpoint and restored by ``trainer.train(resume_from_checkpoint=...)``. With
    ``restore_callback_states_from_checkpoint=True`` the Trainer rebuilds this callback from the
    checkpoint (a new instance, same config; the tokenizer then comes from the Trainer's
    ``processing_class``).

    Args:
        config: path to a monitor YAML file, a validated :class:`MonitorConfig`, or its mapping.
        tokenizer: the model's tokenizer (defaults to the Trainer's ``processing_class``).
    """

    def __init__(self, config: str | Path | MonitorConfig | Mapping[str, Any], *, tokenizer: Any = None) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.controller: Controller | None = None
        #: The controller state to resume from, when the Trainer rebuilt this callback from a checkpoint.
        self.resume_state: dict[str, Any] | None = None
        self._inputs: dict[str, torch.Tensor] = {}
        self._hook = None
        self._levers: _TrainerLevers | None = None

    @property
    def monitor(self) -> Monitor | None:
        """The run's core monitor (baselines, levels, metrics), once training has started."""
        return self.controller.monitor if self.controller is not None else None

    @property
    def metrics_url(self) -> str | None:
        server = self.controller.server if self.controller is not None else None
        return server.url if server else None

    # --- ExportableState --------------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """What a Trainer checkpoint keeps of the monitor (JSON, in ``trainer_state.json``)."""
        if isinstance(self.config, MonitorConfig):
            config: Any = self.config.model_dump(mode="json")
        elif isinstance(self.config, (str, Path)):
            config = str(Path(self.config).resolve())
        else:
            config = dict(self.config)
        return {"args": {"config": config}, "attributes": {"resume_state": self.controller.state_dict() if self.controller else None}}

    # --- Trainer events ---------------------------------------------------------------------------
    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model=None, processing_class=None,
                       optimizer=None, lr_scheduler=None, **kwargs: Any) -> None:
        # Config and pack problems stop the run here, before the first step.
        settings = self._settings()
        pack = load_pack(settings.pack)
        check_signal_names(settings, [signal.name for signal in pack.spec.signals], str(self.config))
        sharding = sharded_by(args)
        check_sharding(rank_zero_passes(settings, sharding), sharding, "PersonaMonitorCallback")
        if "realign" in settings.actions.on_warn + settings.actions.on_critical and not self._can_swap():
            raise ValueError("actions: `realign` needs the Trainer to swap batches, which a callback cannot do: build the Trainer with "
                             "em_monitor.callbacks.hf.realigning(Trainer) (or realigning(SFTTrainer)), or drop realign from the actions")
        tokenizer = self.tokenizer if self.tokenizer is not None else processing_class
        self._levers = _TrainerLevers(args, optimizer, lr_scheduler)
        self._levers.control, self._levers.state = control, state
        self.controller = Controller(settings, pack, model, tokenizer, levers=self._levers, start_step=state.global_step)
        resume = self.resume_state if self.resume_state is not None else _checkpointed_state(state)
        if resume:
            self.controller.load_state_dict(resume)
        self.resume_state = None
        self._hook = model.register_forward_pre_hook(_keep_inputs(self._inputs), with_kwargs=True)

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.controller is None:
            return
        self._levers.control, self._levers.state = control, state
        self.controller.begin_step(state.global_step)  # RealignMixin.training_step swaps in the benign batch

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.controller is None:
            return
        self._levers.control, self._levers.state = control, state
        self.controller.end_step(self._inputs)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None, **kwargs: Any) -> None:
        if self._levers is not None:
            _merge_into_log(self._levers.pending_logs, state, logs)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self.controller is not None:
            self.controller.close()

    # --- internals --------------------------------------------------------------------------------
    def _settings(self) -> MonitorConfig:
        if isinstance(self.config, MonitorConfig):
            return self.config
        if isinstance(self.config, Mapping):
            return parse_config(self.config, source="PersonaMonitorCallback(config=...)")
        return load_config(self.config)

    def _can_swap(self) -> bool:
        trainer = _SWAPPING_TRAINER.get()
        return trainer is not None and any(callback is self for callback in trainer.callback_handler.callbacks)

    def benign_inputs(self, inputs: Mapping[str, Any]) -> dict[str, Any] | None:
        """While a realignment trains: benign inputs shaped like ``inputs`` (the same keys the model takes), else None."""
        if self.controller is None or not self.controller.realigning or "input_ids" not in inputs:
            return None
        benign = self.controller.benign_batch(int(inputs["input_ids"].shape[0]))
        if benign is None:
            return None
        # The collator's response_mask is not a model input; keep what the Trainer's own batches carry.
        keep = (set(inputs) | {"input_ids", "attention_mask", "labels"}) & set(benign)
        return {key: benign[key] for key in keep}


def _merge_into_log(pending: dict[str, float], state: TrainerState, logs: dict | None) -> None:
    """Hand ``pending`` values to the Trainer's log (and empty it).

    A callback cannot call ``Trainer.log``: the values join the record the Trainer keeps
    (``trainer_state.json``) and the logs dict the callbacks after this one receive. Reporting
    integrations registered before it do not see them.
    """
    if logs is None or not pending:
        return
    logs.update(pending)
    if state.log_history and state.log_history[-1].get("step") == state.global_step:
        state.log_history[-1].update(pending)
    pending.clear()


def _checkpointed_state(state: TrainerState) -> dict[str, Any] | None:
    """The monitor state a resumed Trainer read from ``trainer_state.json`` (None on a fresh run).

    Read here too, not only through ``restore_callback_states_from_checkpoint`` (off by
    default): resuming the monitor with the run should not depend on a Trainer flag.
    """
    if state.global_step == 0:
        return None
    stored = (state.stateful_callbacks or {}).get(PersonaMonitorCallback.__name__)
    if isinstance(stored, list):
        stored = stored[0] if len(stored) == 1 else None
    return (stored or {}).get("attributes", {}).get("resume_state")


class RealignMixin:
    """The ``realign`` lever for a Hugging Face ``Trainer`` (or any subclass, e.g. TRL's ``SFTTrainer``).

    While the :class:`PersonaMonitorCallback` among the Trainer's callbacks runs a realignment,
    ``training_step`` trains on its benign batch (same per-device size) instead of the user's;
    the loss is then the mean over the benign answer tokens (``num_items_in_batch`` counted the
    user's batch, so it is not passed on). Everything else is the Trainer's own.
    """

    def train(self, *args: Any, **kwargs: Any) -> Any:
        with _swapping(self):
            return super().train(*args, **kwargs)

    def training_step(self, model: torch.nn.Module, inputs: dict[str, Any], num_items_in_batch: Any = None) -> torch.Tensor:
        monitor = next((callback for callback in self.callback_handler.callbacks if isinstance(callback, PersonaMonitorCallback)), None)
        benign = monitor.benign_inputs(inputs) if monitor is not None else None
        if benign is not None:
            inputs, num_items_in_batch = benign, None
        return super().training_step(model, inputs, num_items_in_batch)


@contextmanager
def _swapping(trainer: Trainer) -> Iterator[None]:
    token = _SWAPPING_TRAINER.set(trainer)
    try:
        yield
    finally:
        _SWAPPING_TRAINER.reset(token)


def realigning(trainer_class: type[Trainer]) -> type[Trainer]:
    """``trainer_class`` with the realign lever: one line, ``Trainer = realigning(transformers.Trainer)``.

    Example::

        from trl import SFTTrainer
        trainer = realigning(SFTTrainer)(model=model, args=args, train_dataset=data, callbacks=[PersonaMonitorCallback("monitor.yaml")])
    """
    return type(f"Realigning{trainer_class.__name__}", (RealignMixin, trainer_class), {"__module__": __name__})


class BehaviourCheckCallback(TrainerCallback):
    """The behavioural check in a Hugging Face ``Trainer``: the Lightning ``BehaviourCheck``'s twin, on the same core.

    Answers to ``prompts`` graded by ``judge`` at step 0, every ``every_n_steps`` steps and at the
    last step (rank 0 only); see :class:`~em_monitor.runtime.behaviour.BehaviourSchedule`. Results go to
    ``monitor``'s event log, to the Trainer's log (``em_monitor/behaviour/...``) and to ``results``.
    Put it *after* the :class:`PersonaMonitorCallback` in ``callbacks``, so a check can grade the
    monitor's own answers of the same step; the last check runs at the end of the last step,
    while the monitor's event log is still open. Not saved in Trainer checkpoints (its judge is
    not JSON): a resumed run checks again at its first step if that step is due.

    Example::

        check = BehaviourCheckCallback(EmbeddingJudge(), behaviour_prompts(16), every_n_steps=20, monitor=monitor)
        trainer = transformers.Trainer(..., callbacks=[monitor, check])
    """

    def __init__(self, judge: Judge, prompts: list[str], *, tokenizer: Any = None, every_n_steps: int = 20, max_new_tokens: int = 40,
                 batch_size: int = 8, monitor: PersonaMonitorCallback | None = None) -> None:
        self.schedule = BehaviourSchedule(judge, prompts, every_n_steps=every_n_steps, max_new_tokens=max_new_tokens, batch_size=batch_size)
        self.tokenizer = tokenizer
        self.monitor = monitor
        self._pending: dict[str, float] = {}

    @property
    def results(self) -> list[dict[str, Any]]:
        return self.schedule.results

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        check_sharding(["the behavioural check"], sharded_by(args), "BehaviourCheckCallback")

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if args.process_index == 0 and self.schedule.due(state.global_step):
            self._check(state.global_step, **kwargs)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        # The end of training, checked here rather than in on_train_end, where the monitor closes its event log.
        last = state.global_step >= state.max_steps or control.should_training_stop
        if args.process_index == 0 and last and self.schedule.due(state.global_step, final=True):
            self._check(state.global_step, **kwargs)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None, **kwargs: Any) -> None:
        _merge_into_log(self._pending, state, logs)

    def _check(self, step: int, model: torch.nn.Module = None, processing_class: Any = None, **kwargs: Any) -> None:
        # The Trainer hands callbacks the unwrapped model (not the DDP wrapper), the one to generate with.
        controller = self.monitor.controller if self.monitor is not None else None
        tokenizer = self.tokenizer if self.tokenizer is not None else processing_class
        self._pending.update(self.schedule.check(step, model, tokenizer, controller))
