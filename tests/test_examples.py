"""The examples run as a user runs them: the plain-Lightning script, the LightningCLI config, the Hugging Face Trainer and TRL SFTTrainer scripts.

Both train a tiny random Llama (saved with ``save_pretrained``, so it loads by path like any HF
model) with the random test pack instead of SmolLM2 and its pack; everything else — argument
parsing, the YAML that attaches the monitor, Lightning's own CLI — is the shipped file.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import yaml

from em_monitor.jsonl import read_jsonl

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load_example(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_lightning_cli_config_attaches_the_monitor_and_trains(tiny_model_dir, write_config, tmp_path):
    shipped = yaml.safe_load((EXAMPLES / "lightning_cli.yaml").read_text())
    assert shipped["trainer"]["callbacks"][0]["class_path"] == "em_monitor.callbacks.PersonaMonitor"
    assert shipped["trainer"]["callbacks"][0]["init_args"]["config"] == "examples/monitor.yaml"
    # Only the model and the monitor's pack are swapped for tiny ones; a second --config overrides the first.
    override = tmp_path / "tiny.yaml"
    override.write_text(yaml.safe_dump({
        "trainer": {"max_steps": 3, "default_root_dir": str(tmp_path / "run"), "enable_progress_bar": False, "accelerator": "cpu",
                    "callbacks": [{"class_path": "em_monitor.callbacks.PersonaMonitor", "init_args": {"config": str(write_config())}}]},
        "model": {"model": str(tiny_model_dir), "batch_size": 2, "max_length": 48},
    }))
    cli = load_example("lightning_cli").main(["fit", "--config", str(EXAMPLES / "lightning_cli.yaml"), "--config", str(override)])
    assert cli.trainer.global_step == 3
    monitor = cli.trainer.callbacks[[type(c).__name__ for c in cli.trainer.callbacks].index("PersonaMonitor")]
    assert monitor.tokenizer is None and monitor.monitor is not None, "the monitor took the tokenizer from the module"
    steps = [record["step"] for _, record in read_jsonl(tmp_path / "events.jsonl") if record["event"] == "sample" and record["source"] == "prompts"]
    assert steps == [0, 1, 2]


def test_the_plain_lightning_example_trains_any_model_by_path(tiny_model_dir, write_config, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["finetune_with_monitor.py", "--model", str(tiny_model_dir), "--config", str(write_config()),
                                      "--steps", "2", "--batch-size", "2"])
    monkeypatch.chdir(tmp_path)
    load_example("finetune_with_monitor").main()
    assert "done at step 2" in capsys.readouterr().out
    assert any(record["event"] == "sample" for _, record in read_jsonl(tmp_path / "events.jsonl"))


def test_the_hugging_face_trainer_example_trains_any_model_by_path(tiny_model_dir, write_config, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    trainer = load_example("hf_trainer_with_monitor").main(["--model", str(tiny_model_dir), "--config", str(write_config()), "--steps", "2",
                                                            "--batch-size", "2", "--out", str(tmp_path / "out")])
    assert trainer.state.global_step == 2 and "done at step 2" in capsys.readouterr().out
    assert {record["source"] for _, record in read_jsonl(tmp_path / "events.jsonl") if record["event"] == "sample"} == {"prompts", "train_batch"}


def test_the_trl_sft_example_trains_any_model_by_path(tiny_model_dir, write_config, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    trainer = load_example("trl_sft_with_monitor").main(["--model", str(tiny_model_dir), "--config", str(write_config()), "--steps", "2",
                                                         "--batch-size", "2", "--out", str(tmp_path / "out")])
    assert trainer.state.global_step == 2 and "done at step 2" in capsys.readouterr().out
    samples = [record for _, record in read_jsonl(tmp_path / "events.jsonl") if record["event"] == "sample" and record["source"] == "train_batch"]
    assert samples and all(record["samples"] == 2 for record in samples)
