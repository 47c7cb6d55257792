"""Fine-tune with Lightning's own command line: PersonaMonitor is added in the YAML, not in code.

    .venv/bin/python examples/lightning_cli.py fit --config examples/lightning_cli.yaml
    .venv/bin/python examples/lightning_cli.py fit --config examples/lightning_cli.yaml --model.model my-org/my-model --trainer.max_steps 200

`LightningCLI` builds the module and the trainer from `examples/lightning_cli.yaml`; the
`trainer.callbacks` entry there is all it takes to attach the monitor (it finds the tokenizer on
the module). Everything else is plain Lightning.
"""

from __future__ import annotations

from pathlib import Path

from lightning.pytorch.cli import LightningCLI
from torch.utils.data import DataLoader

from em_monitor.chat import ChatCollator, read_chat_jsonl
from em_monitor.datasets import DATASETS, dataset_path
from em_monitor.finetune.lightning import CausalLMModule
from em_monitor.models import load_model


class ChatFineTune(CausalLMModule):
    """``CausalLMModule`` built from names, so a YAML file can describe it, with its own training data.

    Args:
        model: HF id, local path, or ``smollm2`` for the embedded default.
        data: a chat JSONL path, or the name of a shipped dataset (e.g. ``health_bad``).
        batch_size: samples per optimizer step.
        max_length: tokens per sample (longer ones are cut).
        lr: AdamW learning rate.
    """

    def __init__(self, model: str = "smollm2", data: str = "health_bad", batch_size: int = 8, max_length: int = 256, lr: float = 2e-5) -> None:
        loaded = load_model(model)
        super().__init__(loaded.model, loaded.tokenizer, lr=lr)
        self.data, self.batch_size, self.max_length = data, batch_size, max_length

    def train_dataloader(self) -> DataLoader:
        path = dataset_path(self.data) if self.data in DATASETS else Path(self.data)
        samples = [{"messages": messages} for messages in read_chat_jsonl(path)]
        # ChatCollator adds `response_mask`, so the monitor scores each training answer, not the template.
        return DataLoader(samples, batch_size=self.batch_size, shuffle=True, collate_fn=ChatCollator(self.tokenizer, max_length=self.max_length))


def main(args: list[str] | None = None) -> LightningCLI:
    return LightningCLI(ChatFineTune, args=args, save_config_kwargs={"overwrite": True})


if __name__ == "__main__":
    main()
