"""Fine-tune any Hugging Face causal LM with PersonaMonitor attached: plain Lightning, nothing hidden.

Copy this file and change the model, data and config. Run it as it is with the embedded model:

    .venv/bin/python examples/finetune_with_monitor.py --config examples/monitor.yaml --steps 40

or with your own model (its persona pack must be built for it: `em-monitor build-pack`):

    .venv/bin/python examples/finetune_with_monitor.py --model my-org/my-model --config my_monitor.yaml --data train.jsonl
"""

from __future__ import annotations

import argparse

import lightning as L
from em_monitor.callbacks import PersonaMonitor
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator, read_chat_jsonl
from em_monitor.datasets import dataset_path
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2'")
    parser.add_argument("--config", default="examples/monitor.yaml", help="monitor YAML (validate it with `em-monitor check-config`)")
    parser.add_argument("--data", default=str(dataset_path("health_bad")), help="chat JSONL to fine-tune on")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-5)
    args = parser.parse_args()

    loaded = load_model(args.model)
    samples = [{"messages": messages} for messages in read_chat_jsonl(args.data)]
    # ChatCollator adds `response_mask`, so the monitor scores each training answer, not the template.
    loader = DataLoader(samples, batch_size=args.batch_size, shuffle=True, collate_fn=ChatCollator(loaded.tokenizer, max_length=256))
    monitor = PersonaMonitor(args.config, tokenizer=loaded.tokenizer)
    trainer = L.Trainer(max_steps=args.steps, accelerator="auto", devices=1, callbacks=[monitor], log_every_n_steps=5)
    trainer.fit(CausalLMModule(loaded.model, loaded.tokenizer, lr=args.lr), loader)
    print(f"done at step {trainer.global_step}; levels: {({name: level.name for name, level in monitor.monitor.levels.items()})}")


if __name__ == "__main__":
    main()
