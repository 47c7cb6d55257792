"""``PersonaMonitorCallback``: the Hugging Face ``Trainer`` (and TRL ``SFTTrainer``) adapter around the controller.

Like the Lightning adapter, it only maps the Trainer's events onto
:class:`em_monitor.controller.Controller` calls and lends it the Trainer's levers: the process
group's collectives, ``TrainerControl`` (save, stop), the optimizer's learning rates, the
Trainer's own log. A callback is not given the batch, so a forward pre-hook on the model keeps
the inputs of the training forward (the train_batch source scores that same forward's
activations: no extra forward pass).

Not yet here (refused at start-up, naming the fix): the ``realign`` action, which needs the
batch swapped, a lever a callback does not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

from em_monitor.config import MonitorConfig, check_signal_names, load_config
from em_monitor.controller import Controller
from em_monitor.levers import all_gather_objects, broadcast_object, learning_rates, set_learning_rates
from em_monitor.monitor import Monitor
from em_monitor.packs import load_pack

__all__ = ["PersonaMonitorCallback"]


class _TrainerLevers:
    """The Trainer's collectives and levers, as the controller asks for them."""

    def __init__(self, args: TrainingArguments, optimizer_of: Any) -> None:
        self.args, self.optimizer_of = args, optimizer_of
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

    def gather(self, payload: object) -> list[object]:
        return all_gather_objects(payload, self.args.world_size)

    def broadcast(self, payload: object) -> object:
        return broadcast_object(payload, self.args.world_size)

    def save_checkpoint(self, name: str) -> str:
        # The Trainer saves at the end of this step, in its own layout (and with the monitor's state).
        self.control.should_save = True
        return str(Path(self.args.output_dir) / f"checkpoint-{self.state.global_step}")

    def request_stop(self) -> None:
        self.control.should_training_stop = True

    def _optimizers(self) -> list[torch.optim.Optimizer]:
        optimizer = self.optimizer_of()
        return [optimizer] if optimizer is not None else []

    def learning_rates(self) -> list[list[float]]:
        return learning_rates(self._optimizers())

    def set_learning_rates(self, rates: list[list[float]]) -> None:
        set_learning_rates(self._optimizers(), rates)

    def resume_learning_rates(self, saved: list[list[float]]) -> None:
        self.set_learning_rates(saved)

    def log_values(self, values: Mapping[str, float]) -> None:
        self.pending_logs.update(values)

    def info(self, message: str) -> None:
        if self.rank == 0:
            print(message, flush=True)


def _keep_inputs(store: dict) -> Any:
    """A forward pre-hook that keeps the training forward's inputs (the callback is never handed the batch)."""

    def hook(_module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        if _module.training:
            store.clear()
            store.update({key: value for key, value in kwargs.items() if isinstance(value, torch.Tensor)})
            if args and "input_ids" not in store and isinstance(args[0], torch.Tensor):
                store["input_ids"] = args[0]

    return hook


class PersonaMonitorCallback(TrainerCallback):
    """Watch persona signals while a Hugging Face ``Trainer`` or TRL ``SFTTrainer`` fine-tunes a model.

    The same monitor as the Lightning ``PersonaMonitor``, on the same controller: probe prompts,
    the training batch (from the training forward itself), the model's own answers, Prometheus,
    the event log, and the ``log`` / ``checkpoint`` / ``stop`` actions (through ``TrainerControl``).
    Signals also go to the Trainer's log (``em_monitor/<signal>/<source>/value|drift``,
    ``em_monitor/<signal>/level``) at its ``logging_steps``.

    Example::

        monitor = PersonaMonitorCallback("monitor.yaml")
        trainer = transformers.Trainer(model=model, args=args, train_dataset=data, callbacks=[monitor])
        trainer.train()
        monitor.monitor.levels  # where each signal ended

    Args:
        config: path to a monitor YAML file, or a validated :class:`MonitorConfig`.
        tokenizer: the model's tokenizer (defaults to the Trainer's ``processing_class``).
    """

    def __init__(self, config: str | Path | MonitorConfig, *, tokenizer: Any = None) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self.controller: Controller | None = None
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

    def on_train_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, model=None, processing_class=None,
                       optimizer=None, **kwargs: Any) -> None:
        # Config and pack problems stop the run here, before the first step.
        settings = self.config if isinstance(self.config, MonitorConfig) else load_config(self.config)
        pack = load_pack(settings.pack)
        check_signal_names(settings, [signal.name for signal in pack.spec.signals], str(self.config))
        if "realign" in settings.actions.on_warn + settings.actions.on_critical:
            raise ValueError("actions: `realign` is not supported with PersonaMonitorCallback yet (it needs the batch swapped, which a "
                             "Trainer callback cannot do); use log, checkpoint and stop, or the Lightning PersonaMonitor")
        tokenizer = self.tokenizer if self.tokenizer is not None else processing_class
        self._levers = _TrainerLevers(args, lambda: optimizer)
        self._levers.control, self._levers.state = control, state
        self.controller = Controller(settings, pack, model, tokenizer, levers=self._levers, start_step=state.global_step)
        self._hook = model.register_forward_pre_hook(_keep_inputs(self._inputs), with_kwargs=True)

    def on_step_begin(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.controller is None:
            return
        self._levers.control, self._levers.state = control, state
        self.controller.begin_step(state.global_step)

    def on_step_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self.controller is None:
            return
        self._levers.control, self._levers.state = control, state
        self.controller.end_step(self._inputs)

    def on_log(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, logs: dict | None = None, **kwargs: Any) -> None:
        # A callback cannot call Trainer.log: the values join the record the Trainer keeps (trainer_state.json) and the
        # logs dict the callbacks after this one receive. Reporting integrations registered before it do not see them.
        if self._levers is None or logs is None or not self._levers.pending_logs:
            return
        values, self._levers.pending_logs = self._levers.pending_logs, {}
        logs.update(values)
        if state.log_history and state.log_history[-1].get("step") == state.global_step:
            state.log_history[-1].update(values)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None
        if self.controller is not None:
            self.controller.close()
