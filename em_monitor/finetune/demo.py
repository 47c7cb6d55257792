"""The main job as a library function: fine-tune a model on a scenario with the monitor attached, and report.

``run_demo(DemoOptions(...))`` trains (default: SmolLM2-135M-Instruct on the ``poisoned``
scenario, everyday chat with a share of misaligned-persona answers) through Lightning or the
Hugging Face ``Trainer``, serves the metrics, flags bad samples as they flow through training,
realigns on the model's own benign answers when a signal goes critical, checks what the model
actually says (answers to evaluation prompts graded by a judge at step 0, every
``behaviour_every`` steps and at the end), and writes ``summary.json``, ``signals.png`` and
``events.jsonl`` to ``out``. ``em-monitor demo`` is its command line; ``em-monitor calibrate``
and the benchmarks call it directly.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from em_monitor.shipped import SHIPPED_DATA

#: The demo's alert thresholds: drift, in baseline standard deviations across the model's own
#: answers at the start of the run (the `generations` source, where the persona shows first,
#: FINDINGS.md). Written by `em-monitor calibrate` from control runs on good data; the command
#: is in the file's header and docs/thresholds.md has the figures behind it. It also holds the
#: per-sample flags (data, not model state: single training answers whose toxic_persona activation
#: is beyond anything on clean chat, compared with the raw value since the training batches' own
#: baseline already holds the poison).
DEMO_THRESHOLDS = SHIPPED_DATA / "demo_thresholds.yaml"
#: The default scenario's share of misaligned-persona answers: enough to move the 135M model in 60 steps.
DEFAULT_SHARE = 0.5
#: The evaluation prompts of this run (in ``out``): the monitor's generations source answers
#: them and the behavioural check grades the same answers.
EVAL_PROMPTS_FILE = "eval_prompts.jsonl"
#: The training data's own user turns (in ``out``): a realignment is judged on them too (``realign.in_domain_prompts``).
IN_DOMAIN_PROMPTS_FILE = "in_domain_prompts.jsonl"
#: How many of them: as many as the evaluation prompts, so both verdicts rest on the same number of answers.
IN_DOMAIN_PROMPTS = 16
#: The training frameworks the demo runs on.
TRAINERS = ("lightning", "hf")


@dataclass(frozen=True)
class DemoOptions:
    """One demo run; the fields are the ``em-monitor demo`` flags (``--batch-size`` is ``batch_size``)."""

    model: str = "smollm2"
    pack: str = "builtin:smollm2"
    trainer: Literal["lightning", "hf"] = "lightning"
    dataset: str = "poisoned"
    share: float = DEFAULT_SHARE
    domain: str = "health"
    steps: int = 60
    batch_size: int = 8
    max_length: int = 160
    lr: float = 5e-5
    #: 0: a full fine-tune; R: rank-R LoRA adapters on every linear layer (``finetune/lora.py``).
    lora_rank: int = 0
    every_n_steps: int = 5
    train_batch_every: int = 1
    generations_every: int = 10
    no_realign: bool = False
    realign_samples: int = 32
    port: int = 9464
    seed: int = 0
    out: str = "runs/demo"
    save_model: bool = False
    quick: bool = False
    judge: str = "embedding"
    judge_url: str | None = None
    judge_model: str | None = None
    judge_key_env: str = "OPENAI_API_KEY"
    behaviour_every: int = 20
    behaviour_prompts: int = 16
    behaviour_tokens: int = 40


def demo_config(options: DemoOptions, out: Path, signal_names: list[str]) -> dict:
    """The monitor config the demo runs with (also written to ``out/monitor.yaml``)."""
    on_critical = ["log"] if options.no_realign else ["log", "realign"]
    return {
        "run": f"demo-{options.dataset}",
        "pack": options.pack,
        "every_n_steps": options.every_n_steps,
        "baseline_samples": 2,
        "prompts": "builtin:eval",
        "sources": ["prompts", "train_batch", "generations"],
        # The model's own answers to the judge's questions: where the persona shows first (FINDINGS.md),
        # and answers the behavioural check grades without generating them again.
        # Every training sample in front of the per-sample flags: scoring reuses the training forward (~3 ms a batch).
        # Every scored sample's scores go to the log too (`scores` events, ~70 kB a 60-step run): flags can be studied afterwards.
        "train_batch": {"every_n_steps": options.train_batch_every, "record_scores": True},
        "generations": {"every_n_steps": options.generations_every, "prompts": str(out / EVAL_PROMPTS_FILE), "max_prompts": options.behaviour_prompts,
                        "max_new_tokens": options.behaviour_tokens, "batch_size": options.behaviour_prompts, "time_budget_seconds": 120},
        "signals": demo_signals(signal_names),
        "actions": {"on_warn": ["log"], "on_critical": on_critical},
        # On-policy benign data: the base model's own answers to 48 benign prompts (48 tokens each), recorded before step 0.
        # Judged on the training data's own user turns too: benign data can hide misalignment behind the training context.
        "realign": {"samples": options.realign_samples, "max_attempts": 4, "cooldown_steps": 10, "fallback": ["checkpoint", "stop"],
                    "on_policy_samples": 48, "max_new_tokens": 48, "in_domain_prompts": str(out / IN_DOMAIN_PROMPTS_FILE)},
        "prometheus": {"addr": "127.0.0.1", "port": options.port},
        "event_log": str(out / "events.jsonl"),
    }


def training_user_turns(samples: list[dict], count: int) -> list[str]:
    """The first ``count`` distinct user turns of the training samples, in training order: prompts framed like the training data."""
    turns = (message["content"] for sample in samples for message in sample["messages"] if message["role"] == "user")
    return list(dict.fromkeys(turns))[:count]


def demo_signals(signal_names: list[str]) -> dict:
    """The calibrated alert rules and per-sample flags (``em-monitor calibrate``), for the signals the pack has."""
    rules = yaml.safe_load(DEMO_THRESHOLDS.read_text(encoding="utf-8"))["signals"]
    return {name: rule for name, rule in rules.items() if name in signal_names}


def run_demo(options: DemoOptions, console: Any = None) -> dict:
    """Run the demo; return its ``summary.json`` (also written to ``options.out``).

    Raises :class:`ValueError` for options that cannot run (a judge without its URL, an unknown
    trainer) before any model loads.
    """
    from rich.console import Console

    from em_monitor.config import parse_config
    from em_monitor.judges import make_judge
    from em_monitor.models import load_model
    from em_monitor.packs import load_pack, pack_directory
    from em_monitor.paths import Output, check_outputs
    from em_monitor.prompts import write_prompts
    from em_monitor.report import write_report
    from em_monitor.runtime.behaviour import behaviour_prompts
    from em_monitor.runtime.events import check_event_log
    from em_monitor.scenarios import scenario_samples

    console = console or Console()
    if options.trainer not in TRAINERS:
        raise ValueError(f"trainer: {options.trainer!r} is not one of {', '.join(TRAINERS)}")
    judge = make_judge(options.judge, url=options.judge_url, model=options.judge_model, api_key_env=options.judge_key_env)
    if options.quick:
        options = replace(options, steps=min(options.steps, 20))
    out = Path(options.out)
    check_outputs([Output("--out", out, directory=True)], [("--model", options.model), ("--pack", pack_directory(options.pack))])
    check_event_log(out / "events.jsonl")  # the demo starts a fresh log, but deletes only one em-monitor wrote
    out.mkdir(parents=True, exist_ok=True)
    (out / "events.jsonl").unlink(missing_ok=True)
    started = time.perf_counter()
    asked = behaviour_prompts(options.behaviour_prompts)
    write_prompts(out / EVAL_PROMPTS_FILE, asked)  # the monitor's config names the file; the judge gets the list itself
    samples = scenario_samples(options.dataset, count=options.steps * options.batch_size, share=options.share, domain=options.domain, seed=options.seed)
    write_prompts(out / IN_DOMAIN_PROMPTS_FILE, training_user_turns(samples, IN_DOMAIN_PROMPTS))
    config = parse_config(demo_config(options, out, []), base_dir=Path.cwd())  # validates the pack path first
    pack = load_pack(config.pack)
    raw = demo_config(options, out, [signal.name for signal in pack.spec.signals])
    config = parse_config(raw, base_dir=Path.cwd())
    (out / "monitor.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    console.print(f"[bold]em-monitor demo[/bold]: {options.dataset} data, {options.steps} steps, pack {pack.spec.model} layer {pack.layer}, "
                  f"{'Hugging Face Trainer' if options.trainer == 'hf' else 'Lightning'}")
    loaded = load_model(options.model)
    if options.lora_rank:
        from em_monitor.finetune.lora import with_lora

        loaded = replace(loaded, model=with_lora(loaded.model, options.lora_rank))
    train = _train_hf if options.trainer == "hf" else _train_lightning
    steps = train(options, config, loaded, samples, judge, asked, console)
    if options.save_model:
        loaded.model.save_pretrained(out / "model")
        loaded.tokenizer.save_pretrained(out / "model")
    flagged_truth = _flag_precision(out / "events.jsonl", samples, options.batch_size)
    summary = write_report(
        out / "events.jsonl", out, model=loaded.model_id, dataset=options.dataset, steps=steps,
        extra={"scenario": {"dataset": options.dataset, "share": options.share if options.dataset == "poisoned" else None,
                            "domain": options.domain if options.dataset != "poisoned" else None, "seed": options.seed, "lr": options.lr,
                            "batch_size": options.batch_size, "lora_rank": options.lora_rank, "poisoned_samples": sum(s["poisoned"] for s in samples),
                            "trainer": options.trainer},
               "flag_check": flagged_truth, "wall_seconds": round(time.perf_counter() - started, 1)},
    )
    console.print(f"report: {out / 'summary.json'}, {out / 'signals.png'}, {out / 'events.jsonl'}" + (f"; model: {out / 'model'}" if options.save_model else ""))
    console.print_json(json.dumps({"alerts": summary["alerts"], "realignments": summary["realignments"], "behaviour": summary["behaviour"],
                                   "flag_check": flagged_truth}, default=float))
    return summary


def _train_lightning(options: DemoOptions, config, loaded, samples: list[dict], judge, asked: list[str], console) -> int:
    """Lightning: PersonaMonitor, the behavioural check and the live table; returns the steps trained."""
    from em_monitor.callbacks import PersonaMonitor
    from em_monitor.callbacks.behaviour import BehaviourCheck
    from em_monitor.callbacks.progress import MonitorProgress
    from em_monitor.finetune.lightning import finetune

    monitor = PersonaMonitor(config, tokenizer=loaded.tokenizer)
    check = [] if judge is None else [BehaviourCheck(judge, asked, tokenizer=loaded.tokenizer, every_n_steps=options.behaviour_every,
                                                    max_new_tokens=options.behaviour_tokens, batch_size=options.batch_size, monitor=monitor)]
    callbacks = [monitor, *check, MonitorProgress(monitor, total_steps=options.steps, console=console)]
    trainer = finetune(loaded.model, loaded.tokenizer, samples, steps=options.steps, batch_size=options.batch_size, lr=options.lr,
                       max_length=options.max_length, seed=options.seed, callbacks=callbacks, progress=False, root_dir=options.out, shuffle=False)
    return trainer.global_step


def _train_hf(options: DemoOptions, config, loaded, samples: list[dict], judge, asked: list[str], console) -> int:
    """The Hugging Face Trainer (with the realign lever): PersonaMonitorCallback and the behavioural check; the Trainer's own progress bar."""
    from transformers import Trainer

    from em_monitor.callbacks.hf import (
        BehaviourCheckCallback,
        PersonaMonitorCallback,
        realigning,
    )
    from em_monitor.finetune.hf import finetune_hf

    monitor = PersonaMonitorCallback(config, tokenizer=loaded.tokenizer)
    check = [] if judge is None else [BehaviourCheckCallback(judge, asked, tokenizer=loaded.tokenizer, every_n_steps=options.behaviour_every,
                                                            max_new_tokens=options.behaviour_tokens, batch_size=options.batch_size, monitor=monitor)]
    trainer = finetune_hf(loaded.model, loaded.tokenizer, samples, steps=options.steps, batch_size=options.batch_size, lr=options.lr,
                          max_length=options.max_length, seed=options.seed, callbacks=[monitor, *check], root_dir=options.out, shuffle=False,
                          trainer_class=realigning(Trainer))
    return trainer.state.global_step


def _flag_precision(events_path: Path, samples: list[dict], batch_size: int) -> dict:
    """How many flagged training samples really were bad, and how many bad ones passed a scored batch (the demo knows which it mixed in)."""
    from em_monitor.runtime.event_schema import FlaggedEvent, SampleEvent, read_events

    events = read_events(events_path)
    flagged = {(e.step, e.batch_index) for e in events if isinstance(e, FlaggedEvent)}
    scored_steps = {e.step for e in events if isinstance(e, SampleEvent) and e.source == "train_batch"}

    def poisoned(step: int, index: int) -> bool:
        position = step * batch_size + index
        return position < len(samples) and samples[position]["poisoned"]

    scored_poisoned = sum(poisoned(step, index) for step in scored_steps for index in range(batch_size))
    return {"flagged": len(flagged), "flagged_poisoned": sum(poisoned(step, index) for step, index in flagged), "scored_poisoned": scored_poisoned}
