"""Run by tests/test_prometheus_integration.py: a single-process fit with a planted persona shift.

The metrics endpoint only lives while ``Trainer.fit`` runs, and a real Prometheus needs time to
scrape it, so this run waits twice on files the test creates: before the first step (``GO``,
so Prometheus sees every counter at zero before anything happens) and after training has
ended but before the monitor's teardown closes the endpoint (``RELEASE``, so the alerts can
reach Alertmanager). Both waits are bounded: an abandoned run still exits.

Usage: alerting_run.py CONFIG PACK OUT GO RELEASE
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import lightning.pytorch as pl
import torch
import yaml

# The sibling script's module (this folder is sys.path[0] when run as a script): one planted shift.
from ddp_planted_shift import PersonaPushModule
from em_monitor.callbacks import PersonaMonitor
from safetensors.torch import load_file
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator
from em_monitor.tiny import tiny_llama, tiny_tokenizer

WAIT_SECONDS = 120.0


def wait_for(path: Path) -> bool:
    deadline = time.monotonic() + WAIT_SECONDS
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


class HoldOpen(pl.Callback):
    """Holds the run at its start and at its end (before teardown) until the test says go on."""

    def __init__(self, go: Path, release: Path) -> None:
        self.go, self.release = go, release
        self.waited: dict[str, bool] = {}

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.waited["go"] = wait_for(self.go)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.waited["release"] = wait_for(self.release)


def toxic_persona_encoder_row(pack: Path) -> torch.Tensor:
    """The input direction that raises the pack's toxic_persona latent: its encoder column.

    Pushing block 2's output along it drives that latent (and so the alert on-call people are
    paged for) up, as a persona fine-tune drives the real one.
    """
    latent = next(s["latent"] for s in yaml.safe_load((pack / "pack.yaml").read_text())["signals"] if s["name"] == "toxic_persona")
    return load_file(str(pack / "sae" / "sae_weights.safetensors"))["W_enc"][:, latent].float()


def main(config: str, pack: str, out: str, go: str, release: str) -> None:
    torch.set_num_threads(1)
    tokenizer = tiny_tokenizer()
    samples = [
        {"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}."}]}
        for i in range(256)
    ]
    loader = DataLoader(samples, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=48))
    monitor = PersonaMonitor(config, tokenizer=tokenizer)
    hold = HoldOpen(Path(go), Path(release))
    direction = toxic_persona_encoder_row(Path(pack))
    trainer = pl.Trainer(
        max_steps=60, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=out, callbacks=[monitor, hold],
    )
    trainer.fit(PersonaPushModule(tiny_llama(), tokenizer, direction), loader)
    report = {"global_step": trainer.global_step, "waited": hold.waited, "levels": {k: int(v) for k, v in monitor.monitor.levels.items()}}
    Path(out, "result.json").write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:6])
