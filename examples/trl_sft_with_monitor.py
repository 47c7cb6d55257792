"""Fine-tune any Hugging Face causal LM with TRL's ``SFTTrainer`` and the persona monitor attached.

Needs the TRL extra (`pip install 'em-monitor[trl]'`). SFTTrainer reads the ``messages`` of each
sample and applies the model's chat template itself. Run it as it is with the embedded model:

    .venv/bin/python examples/trl_sft_with_monitor.py --config examples/monitor.yaml --steps 40

or with your own model and data (its persona pack must be built for it: `em-monitor build-pack`):

    .venv/bin/python examples/trl_sft_with_monitor.py --model my-org/my-model --config my_monitor.yaml --data train.jsonl
"""

from __future__ import annotations

import argparse

import torch
from datasets import Dataset
from em_monitor.callbacks.hf import PersonaMonitorCallback, realigning
from trl import SFTConfig, SFTTrainer

from em_monitor.chat import read_chat_jsonl
from em_monitor.datasets import dataset_path
from em_monitor.models import load_model


def main(argv: list[str] | None = None) -> SFTTrainer:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2'")
    parser.add_argument("--config", default="examples/monitor.yaml", help="monitor YAML (validate it with `em-monitor check-config`)")
    parser.add_argument("--data", default=str(dataset_path("health_bad")), help="chat JSONL to fine-tune on")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--out", default="runs/trl-sft", help="the Trainer's output_dir (its checkpoints carry the monitor's state)")
    args = parser.parse_args(argv)

    loaded = load_model(args.model)
    data = Dataset.from_list([{"messages": messages} for messages in read_chat_jsonl(args.data)])
    # The monitor scores the tokens SFTTrainer's `labels` mark (every token of a `messages` sample unless
    # assistant_only_loss=True, which needs a chat template with generation markers).
    training = SFTConfig(output_dir=args.out, max_steps=args.steps, per_device_train_batch_size=args.batch_size, learning_rate=args.lr,
                         max_length=256, logging_steps=5, save_strategy="no", report_to=[], use_cpu=not torch.cuda.is_available())
    trainer = realigning(SFTTrainer)(model=loaded.model, args=training, train_dataset=data, processing_class=loaded.tokenizer,
                                     callbacks=[PersonaMonitorCallback(args.config)])
    trainer.train()
    monitor = next(callback for callback in trainer.callback_handler.callbacks if isinstance(callback, PersonaMonitorCallback))
    if training.process_index == 0:
        print(f"done at step {trainer.state.global_step}; levels: {({name: level.name for name, level in monitor.monitor.levels.items()})}")
    return trainer


if __name__ == "__main__":
    main()
