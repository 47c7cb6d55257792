"""``PersonaMonitor``: the Lightning adapter around :class:`em_monitor.runtime.controller.Controller`.

It only maps trainer events onto controller calls and lends the controller Lightning's levers
(the strategy's collectives, checkpoints, ``should_stop``, the optimizers' learning rates,
``pl_module.log``). Everything the monitor decides lives in the core.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.strategies import DeepSpeedStrategy, FSDPStrategy, ModelParallelStrategy
from lightning.pytorch.utilities import rank_zero_info

from em_monitor.config import MonitorConfig, check_signal_names, load_config
from em_monitor.packs import PersonaPack, load_pack
from em_monitor.runtime.controller import Controller
from em_monitor.runtime.levers import learning_rates, restore_learning_rates, set_learning_rates
from em_monitor.runtime.monitor import Monitor
from em_monitor.runtime.own_answers import AnswerPass
from em_monitor.runtime.realign import Realigner
from em_monitor.runtime.sharding import Sharding, check_sharding, rank_zero_passes

__all__ = ["PersonaMonitor", "find_model", "sharded_by"]


def sharded_by(strategy: object) -> Sharding | None:
    """How a Lightning strategy shards parameters (every rank must join each forward), else None.

    ``ModelParallelStrategy`` is FSDP2, where the monitor's probe passes run on every rank.
    """
    if isinstance(strategy, ModelParallelStrategy):
        return Sharding("ModelParallelStrategy (FSDP2)", collective_passes=True)
    if isinstance(strategy, FSDPStrategy):
        return Sharding("FSDPStrategy")
    if isinstance(strategy, DeepSpeedStrategy) and strategy.config.get("zero_optimization", {}).get("stage") == 3:
        return Sharding("DeepSpeedStrategy (ZeRO stage 3)")
    return None


def find_model(pl_module: pl.LightningModule, attr: str | None = None) -> torch.nn.Module:
    """The transformers model inside a LightningModule: ``attr`` when given, else the outermost module with a model config.

    Outermost, so a causal LM is found before its own inner base model (the one that can ``generate``).
    """
    if attr:
        return getattr(pl_module, attr)
    for module in pl_module.modules():
        config = getattr(module, "config", None)
        # A vision-language model keeps width and depth in its text config (its vision tower, found later, has its own).
        config = config.get_text_config() if callable(getattr(config, "get_text_config", None)) else config
        if module is not pl_module and config is not None and hasattr(config, "num_hidden_layers") and hasattr(config, "hidden_size"):
            return module
    raise ValueError("em-monitor found no transformers model in the LightningModule; pass model_attr='<attribute name>'")


class _LightningLevers:
    """Lightning's training-loop levers, as the controller asks for them."""

    def __init__(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.trainer, self.pl_module = trainer, pl_module

    @property
    def rank(self) -> int:
        return self.trainer.global_rank

    @property
    def world_size(self) -> int:
        return self.trainer.world_size

    def save_checkpoint(self, name: str) -> str:
        path = Path(self.trainer.default_root_dir) / "em_monitor" / f"{name}.ckpt"
        self.trainer.save_checkpoint(path)
        return str(path)

    def request_stop(self) -> None:
        self.trainer.should_stop = True

    def learning_rates(self) -> list[list[float]]:
        return learning_rates(self.trainer.optimizers)

    def set_learning_rates(self, rates: list[list[float]]) -> None:
        set_learning_rates(self.trainer.optimizers, rates)

    def resume_learning_rates(self, saved: list[list[float]]) -> None:
        restore_learning_rates(self.trainer.optimizers, [config.scheduler for config in self.trainer.lr_scheduler_configs], saved)

    def log_values(self, values: dict[str, float]) -> None:
        for key, value in values.items():
            self.pl_module.log(key, value, rank_zero_only=True)

    def info(self, message: str) -> None:
        rank_zero_info(message)


class PersonaMonitor(Callback):
    """Watch persona signals while a Lightning module fine-tunes a transformers model.

    Every ``every_n_steps`` optimizer steps (and at every step until the baseline is complete)
    it scores the configured probe prompts, every ``train_batch.every_n_steps`` (by default the
    same) the training batch itself (from the activations of the training forward pass: no extra
    forward) and, with the ``generations`` source, every ``generations.every_n_steps`` the
    model's own greedy answers to the probe prompts (the answers of each pass go to the event
    log); it exports the signals to Prometheus, logs them with ``pl_module.log``, writes the
    event log, and runs the configured actions when a level rises.

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
        self.controller: Controller | None = None
        self._settings: MonitorConfig | None = None
        self._pack: PersonaPack | None = None
        self._sharding: Sharding | None = None
        self._pending_state: dict | None = None

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
        self._sharding = sharded_by(trainer.strategy)
        check_sharding(rank_zero_passes(self._settings, self._sharding), self._sharding, "PersonaMonitor")

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        # The model may only exist after `configure_model`, which runs after `setup`.
        tokenizer = self.tokenizer if self.tokenizer is not None else getattr(pl_module, "tokenizer", None)
        self.controller = Controller(self._settings, self._pack, find_model(pl_module, self.model_attr), tokenizer,
                                     levers=_LightningLevers(trainer, pl_module), start_step=trainer.global_step, sharded=self._sharding is not None)
        if self._pending_state is not None:
            self.controller.load_state_dict(self._pending_state)
            self._pending_state = None

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if self.controller is None or trainer.sanity_checking:
            return
        if self.controller.begin_step(trainer.global_step):
            self._swap_in_benign(batch)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self.controller is None:
            return
        # Lightning has already advanced global_step past the optimizer step: the controller knows the step it began.
        self.controller.end_step(batch)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        if self.controller is not None:
            self.controller.abort_step()

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if stage == "fit" and self.controller is not None:
            self.controller.close()

    def state_dict(self) -> dict[str, Any]:
        return self.controller.state_dict() if self.controller is not None else {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        if not state_dict:
            return
        if self.controller is None:
            self._pending_state = state_dict
        else:
            self.controller.load_state_dict(state_dict)

    # --- public helpers -----------------------------------------------------------------------
    @property
    def monitor(self) -> Monitor | None:
        """The run's core monitor (baselines, levels, metrics), once training has started."""
        return self.controller.monitor if self.controller is not None else None

    @property
    def server(self):
        """The running metrics endpoint, if any."""
        return self.controller.server if self.controller is not None else None

    @property
    def metrics_url(self) -> str | None:
        """The scrape URL of the running endpoint (``None`` when not serving)."""
        return self.server.url if self.server else None

    @property
    def realigner(self) -> Realigner | None:
        """The realignment state (``None`` unless an action list contains ``realign``)."""
        return self.controller.realigner if self.controller is not None else None

    def answers_at(self, step: int) -> AnswerPass | None:
        """The `generations` pass taken at ``step``; see :meth:`Controller.answers_at`."""
        return self.controller.answers_at(step) if self.controller is not None else None

    # --- internals ------------------------------------------------------------------------------
    def _swap_in_benign(self, batch: Any) -> None:
        """Replace this step's batch, in place, with benign samples while a realignment trains (Lightning's lever)."""
        controller = self.controller
        with controller.monitor.guard("realign"):
            if not (isinstance(batch, dict) and "input_ids" in batch):
                raise TypeError("realignment needs dict batches with input_ids (as ChatCollator makes)")
            benign = controller.benign_batch(int(batch["input_ids"].shape[0]))
            if benign is not None:
                device = batch["input_ids"].device
                batch.clear()
                batch.update({key: value.to(device) for key, value in benign.items()})
