"""A live terminal view of a monitored run: step, loss, and each signal with its drift and level."""

from __future__ import annotations

from typing import Any

import lightning.pytorch as pl
from em_monitor.callbacks.lightning import PersonaMonitor
from lightning.pytorch.callbacks import Callback
from rich.console import Console
from rich.live import Live
from rich.table import Table

__all__ = ["MonitorProgress"]

_LEVEL_STYLE = {0: ("ok", "green"), 1: ("warn", "yellow"), 2: ("CRITICAL", "bold red")}


class MonitorProgress(Callback):
    """Redraws one table after every training step (rank 0 only); use it instead of Lightning's bar.

    Example::

        trainer = lightning.Trainer(callbacks=[monitor, MonitorProgress(monitor, total_steps=60)], enable_progress_bar=False)
    """

    def __init__(self, monitor: PersonaMonitor, total_steps: int, console: Console | None = None) -> None:
        self.persona_monitor = monitor
        self.total_steps = total_steps
        self.console = console or Console()
        self._live: Live | None = None
        self._loss: float | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.is_global_zero:
            self._live = Live(self._table(trainer), console=self.console, refresh_per_second=2, transient=False)
            self._live.start()

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        if self._live is None:
            return
        loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
        if loss is not None:
            self._loss = float(loss.detach())
        self._live.update(self._table(trainer))

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._stop()

    def _stop(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None

    def _table(self, trainer: pl.Trainer) -> Table:
        core = self.persona_monitor.monitor
        loss = f"{self._loss:.3f}" if self._loss is not None else "-"
        title = f"step {trainer.global_step}/{self.total_steps}   loss {loss}"
        realigner = self.persona_monitor.realigner
        if realigner is not None and realigner.active is not None:
            title += f"   [green]realigning (attempt {realigner.active.attempt}, {realigner.active.samples_done} samples)[/green]"
        table = Table(title=title, title_justify="left")
        for column in ("signal", "source", "value", "drift (σ)", "level"):
            table.add_column(column, justify="right" if column in ("value", "drift (σ)") else "left")
        if core is None:
            return table
        for (signal, source), (value, drift) in sorted(core.latest.items()):
            name, style = _LEVEL_STYLE[int(core.levels.get(signal, 0))]
            table.add_row(signal, source, f"{value:.4g}", f"{drift:+.2f}", f"[{style}]{name}[/{style}]")
        return table
