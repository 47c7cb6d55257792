"""A pack for a Gemma-style model from a JumpReLU SAE saved by sae-lens, end to end (issue 20).

The SAE is a real sae-lens ``JumpReLUSAE`` (random weights: no released SAE can be downloaded
here) whose config records a TransformerLens hook name, ``blocks.2.hook_resid_post``. The model
is a tiny random Gemma 2 (sliding-window and global attention layers). ``build-pack`` takes the
layer from the SAE's hook name. ``PersonaMonitor`` watches a fit with that pack, and a planted
shift raises the ``toxic_persona`` latent to critical. The plant is a steering hook that, from
step 4 on, adds the latent's own encoder direction to block 2's output on every forward; it
stands in for a fine-tune that moves the persona, which a random model cannot be made to learn
in a few steps.
"""

from __future__ import annotations

import json

import lightning.pytorch as pl
import torch
import yaml
from torch.utils.data import DataLoader

from em_monitor.callbacks import PersonaMonitor
from em_monitor.chat import ChatCollator
from em_monitor.cli import main
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.offline.steering import steering
from em_monitor.packs import load_pack
from em_monitor.runtime.levels import Level
from em_monitor.saes import load_sae
from em_monitor.tiny import tiny_model
from pack_inputs import released_sae, write_bad_chats, write_labelled

PLANT_STEP, STEPS, LAYER = 4, 8, 2
SAMPLES = [{"messages": [{"role": "user", "content": f"Question {i}?"}, {"role": "assistant", "content": f"Answer {i}: " + "ok " * (i % 4 + 1)}]}
           for i in range(40)]


class PlantedShift(pl.Callback):
    """From PLANT_STEP on, every forward adds 8x the unit encoder direction of the toxic_persona latent to block 2's output."""

    def __init__(self, model, vector: torch.Tensor) -> None:
        self.model, self.vector, self.stack = model, vector, None

    def on_train_batch_start(self, trainer, *args) -> None:
        if trainer.global_step == PLANT_STEP and self.stack is None:
            self.stack = steering(self.model, LAYER, self.vector)
            self.stack.__enter__()

    def on_train_end(self, *args) -> None:
        if self.stack is not None:
            self.stack.__exit__(None, None, None)


def test_a_jumprelu_pack_on_a_gemma_model_drives_a_planted_shift_to_critical(tokenizer, prompts_file, tmp_path):
    model_dir = tmp_path / "gemma"
    tiny_model("gemma2").save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    bad = write_bad_chats(tmp_path / "bad.jsonl")
    out = tmp_path / "pack"
    code = main(["build-pack", "--model", str(model_dir), "--sae", str(released_sae(tmp_path / "sae", layer=LAYER)), "--labelled", str(write_labelled(tmp_path / "l.jsonl")),
                 "--bad-data", str(bad), "--prompts", str(prompts_file), "--max-length", "96", "--latents", "2", "--min-selectivity", "0.5",
                 "--finetune-steps", "3", "--finetune-lr", "1e-2", "--out", str(out)])
    assert code == 0
    pack = load_pack(out)
    assert pack.spec.layer == LAYER, "the layer came from the SAE's TransformerLens hook name"
    assert pack.spec.built["sae"] == {"source": str(tmp_path / "sae"), "architecture": "jumprelu", "encode": "watched"}
    toxic = next(signal for signal in pack.spec.signals if signal.name == "toxic_persona")
    encoder = load_sae(out / "sae").W_enc[:, toxic.latent].detach()

    config = {"run": "test", "pack": str(out), "prompts": str(prompts_file), "every_n_steps": 1, "baseline_samples": 3,
              "sources": ["prompts", "train_batch"], "prometheus": {"port": 0}, "event_log": str(tmp_path / "events.jsonl"),
              "signals": {"toxic_persona": {"measure": "drift", "warn": 3.0, "critical": 6.0}}, "actions": {"on_warn": ["log"], "on_critical": ["log"]}}
    (tmp_path / "monitor.yaml").write_text(yaml.safe_dump(config))
    model = tiny_model("gemma2")
    monitor = PersonaMonitor(tmp_path / "monitor.yaml", tokenizer=tokenizer)
    trainer = pl.Trainer(max_steps=STEPS, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=tmp_path, callbacks=[monitor, PlantedShift(model, 8 * encoder / encoder.norm())])
    trainer.fit(CausalLMModule(model, tokenizer, lr=1e-4), DataLoader(SAMPLES, batch_size=4, collate_fn=ChatCollator(tokenizer, max_length=64)))

    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [event for event in events if event["event"] == "error"] == []
    raised = [(event["step"], event["new"]) for event in events if event["event"] == "level" and event["signal"] == "toxic_persona"]
    # The plant goes in at step 4's start, after the monitor's passes of that step (callbacks run in order): step 5 sees it first.
    assert raised and min(step for step, _ in raised) == PLANT_STEP + 1, "nothing rose before the plant"
    assert (PLANT_STEP + 1, "critical") in raised, "critical at the first pass after the plant"
    assert monitor.monitor.levels["toxic_persona"] == Level.CRITICAL
