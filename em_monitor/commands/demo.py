"""``em-monitor demo``: the main job. Fine-tune the embedded model with PersonaMonitor attached.

It trains SmolLM2-135M-Instruct on a scenario's data (default ``poisoned``: everyday chat with a
share of misaligned-persona answers), serves the metrics, flags bad samples as they flow through
training, realigns on the model's own benign answers when a signal goes critical, checks what the
model actually says (answers to evaluation prompts graded by a judge at step 0, every
``--behaviour-every`` steps and at the end), and writes ``summary.json``, ``signals.png`` and
``events.jsonl`` to ``--out``.

This verb trains, so it imports Lightning (lazily, in the handler), unlike the core modules.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from em_monitor.commands import argtypes

#: The demo's alert thresholds: drift, in baseline standard deviations across the model's own
#: answers at the start of the run (the `generations` source, where the persona shows first,
#: FINDINGS.md). Written by `em-monitor calibrate` from control runs on good data; the command
#: is in the file's header and docs/thresholds.md has the figures behind it. It also holds the
#: per-sample flags (data, not model state: single training answers whose toxic_persona activation
#: is beyond anything on clean chat, compared with the raw value since the training batches' own
#: baseline already holds the poison).
DEMO_THRESHOLDS = Path(__file__).resolve().parents[1] / "data" / "demo_thresholds.yaml"
#: The default scenario's share of misaligned-persona answers: enough to move the 135M model in 60 steps.
DEFAULT_SHARE = 0.5

#: The evaluation prompts of this run (in ``--out``): the monitor's generations source answers
#: them and the behavioural check grades the same answers.
EVAL_PROMPTS_FILE = "eval_prompts.jsonl"


def register(verbs: argparse._SubParsersAction) -> None:
    from em_monitor.judges import JUDGES
    from em_monitor.scenarios import SCENARIOS

    parser = verbs.add_parser("demo", help="fine-tune the embedded model with the monitor attached; report to --out")
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2' for the embedded default")
    parser.add_argument("--pack", default="builtin:smollm2", help="persona pack for the model")
    parser.add_argument("--dataset", choices=SCENARIOS, default="poisoned", help="training-data scenario")
    parser.add_argument("--share", type=argtypes.fraction, default=DEFAULT_SHARE, help="poisoned: share of misaligned-persona samples")
    parser.add_argument("--domain", default="health", help="bad/good: advice domain (health, finance, career)")
    parser.add_argument("--steps", type=argtypes.count, default=60, help="optimizer steps (each ~5 s on 2 CPU cores at batch 8)")
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--max-length", type=argtypes.count, default=160)
    parser.add_argument("--lr", type=argtypes.positive, default=5e-5)
    parser.add_argument("--every-n-steps", type=argtypes.count, default=5, help="optimizer steps between the monitor's passes over probe prompts and training batches")
    parser.add_argument("--train-batch-every", type=argtypes.count, default=1, help="optimizer steps between scorings of the training batch (nearly free: it reuses the training forward), for the per-sample flags")
    parser.add_argument("--generations-every", type=argtypes.count, default=10, help="optimizer steps between passes over the model's own answers")
    parser.add_argument("--no-realign", action="store_true", help="alert and checkpoint only; never realign")
    parser.add_argument("--realign-samples", type=argtypes.count, default=32, help="benign samples per realignment attempt (up to 4 attempts)")
    parser.add_argument("--port", type=argtypes.port, default=9464, help="metrics port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--seed", type=argtypes.index, default=0)
    parser.add_argument("--out", default="runs/demo")
    parser.add_argument("--save-model", action="store_true", help="also save the fine-tuned model to OUT/model (save_pretrained), e.g. for `em-monitor diff --finetuned`")
    parser.add_argument("--quick", action="store_true", help="a 20-step run with fewer probe prompts: a smoke test of the whole pipeline")
    behaviour = parser.add_argument_group("behavioural check", "answers to evaluation prompts, graded by a judge, at step 0, every N steps and at the end")
    behaviour.add_argument("--judge", choices=JUDGES, default="embedding", help="embedding: offline classifier (default); http: an OpenAI-compatible LLM; none: skip")
    behaviour.add_argument("--judge-url", help="http judge: base URL up to /v1, e.g. http://127.0.0.1:8000/v1")
    behaviour.add_argument("--judge-model", help="http judge: model name on that server")
    behaviour.add_argument("--judge-key-env", default="OPENAI_API_KEY", help="http judge: environment variable holding the API key (unset: no key sent)")
    behaviour.add_argument("--behaviour-every", type=argtypes.count, default=20, help="optimizer steps between checks (a multiple of --generations-every lets the judge grade the monitor's own answers instead of generating again)")
    behaviour.add_argument("--behaviour-prompts", type=argtypes.count, default=16, help="evaluation prompts, round-robin over their categories: asked by the monitor's generations source and graded by the judge")
    behaviour.add_argument("--behaviour-tokens", type=argtypes.count, default=40, help="answer length (new tokens, greedy), for the monitor's generations source and the judge alike")
    parser.set_defaults(handler=run)


def demo_config(args: argparse.Namespace, out: Path, signal_names: list[str]) -> dict:
    """The monitor config the demo runs with (also written to ``out/monitor.yaml``)."""
    on_critical = ["log"] if args.no_realign else ["log", "realign"]
    return {
        "run": f"demo-{args.dataset}",
        "pack": args.pack,
        "every_n_steps": args.every_n_steps,
        "baseline_samples": 2,
        "prompts": "builtin:eval",
        "sources": ["prompts", "train_batch", "generations"],
        # The model's own answers to the judge's questions: where the persona shows first (FINDINGS.md),
        # and answers the behavioural check grades without generating them again.
        # Every training sample in front of the per-sample flags: scoring reuses the training forward (~3 ms a batch).
        "train_batch": {"every_n_steps": args.train_batch_every},
        "generations": {"every_n_steps": args.generations_every, "prompts": str(out / EVAL_PROMPTS_FILE), "max_prompts": args.behaviour_prompts,
                        "max_new_tokens": args.behaviour_tokens, "batch_size": args.behaviour_prompts, "time_budget_seconds": 120},
        "signals": demo_signals(signal_names),
        "actions": {"on_warn": ["log"], "on_critical": on_critical},
        # On-policy benign data: the base model's own answers to 48 benign prompts (48 tokens each), recorded before step 0.
        "realign": {"samples": args.realign_samples, "max_attempts": 4, "cooldown_steps": 10, "fallback": ["checkpoint", "stop"],
                    "on_policy_samples": 48, "max_new_tokens": 48},
        "prometheus": {"addr": "127.0.0.1", "port": args.port},
        "event_log": str(out / "events.jsonl"),
    }


def demo_signals(signal_names: list[str]) -> dict:
    """The calibrated alert rules and per-sample flags (``em-monitor calibrate``), for the signals the pack has."""
    import yaml

    rules = yaml.safe_load(DEMO_THRESHOLDS.read_text(encoding="utf-8"))["signals"]
    return {name: rule for name, rule in rules.items() if name in signal_names}


def run(args: argparse.Namespace) -> int:
    import yaml
    from rich.console import Console

    from em_monitor.behaviour import behaviour_prompts
    from em_monitor.callbacks import PersonaMonitor
    from em_monitor.callbacks.finetune import finetune
    from em_monitor.callbacks.progress import MonitorProgress
    from em_monitor.config import parse_config
    from em_monitor.judges import make_judge
    from em_monitor.models import load_model
    from em_monitor.events import check_event_log
    from em_monitor.paths import Output, check_outputs
    from em_monitor.packs import load_pack, pack_directory
    from em_monitor.prompts import write_prompts
    from em_monitor.report import write_report
    from em_monitor.scenarios import scenario_samples

    console = Console()
    try:
        judge = make_judge(args.judge, url=args.judge_url, model=args.judge_model, api_key_env=args.judge_key_env)
    except ValueError as error:  # a missing --judge-url / --judge-model: say so before any model loads
        console.print(f"[red]em-monitor demo: {error}[/red]")
        return 2
    if args.quick:
        args.steps = min(args.steps, 20)
    out = Path(args.out)
    check_outputs([Output("--out", out, directory=True)], [("--model", args.model), ("--pack", pack_directory(args.pack))])
    check_event_log(out / "events.jsonl")  # the demo starts a fresh log, but deletes only one em-monitor wrote
    out.mkdir(parents=True, exist_ok=True)
    (out / "events.jsonl").unlink(missing_ok=True)
    started = time.perf_counter()
    asked = behaviour_prompts(args.behaviour_prompts)
    write_prompts(out / EVAL_PROMPTS_FILE, asked)  # the monitor's config names the file; the judge gets the list itself
    raw = demo_config(args, out, [])
    config = parse_config(raw, base_dir=Path.cwd())  # validates the pack path first
    pack = load_pack(config.pack)
    raw = demo_config(args, out, [signal.name for signal in pack.spec.signals])
    config = parse_config(raw, base_dir=Path.cwd())
    (out / "monitor.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    console.print(f"[bold]em-monitor demo[/bold]: {args.dataset} data, {args.steps} steps, pack {pack.spec.model} layer {pack.layer}")
    loaded = load_model(args.model)
    samples = scenario_samples(args.dataset, count=args.steps * args.batch_size, share=args.share, domain=args.domain, seed=args.seed)
    monitor = PersonaMonitor(config, tokenizer=loaded.tokenizer)
    progress = MonitorProgress(monitor, total_steps=args.steps, console=console)
    callbacks = [monitor, *_behaviour_callbacks(args, judge, asked, monitor, loaded.tokenizer), progress]
    trainer = finetune(
        loaded.model, loaded.tokenizer, samples, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        max_length=args.max_length, seed=args.seed, callbacks=callbacks, progress=False, root_dir=str(out), shuffle=False,
    )
    if args.save_model:
        loaded.model.save_pretrained(out / "model")
        loaded.tokenizer.save_pretrained(out / "model")
    flagged_truth = _flag_precision(out / "events.jsonl", samples, args.batch_size)
    summary = write_report(
        out / "events.jsonl", out, model=loaded.model_id, dataset=args.dataset, steps=trainer.global_step,
        extra={"scenario": {"dataset": args.dataset, "share": args.share if args.dataset == "poisoned" else None,
                            "domain": args.domain if args.dataset != "poisoned" else None, "seed": args.seed, "lr": args.lr,
                            "batch_size": args.batch_size, "poisoned_samples": sum(s["poisoned"] for s in samples)},
               "flag_check": flagged_truth, "wall_seconds": round(time.perf_counter() - started, 1)},
    )
    console.print(f"report: {out / 'summary.json'}, {out / 'signals.png'}, {out / 'events.jsonl'}" + (f"; model: {out / 'model'}" if args.save_model else ""))
    console.print_json(json.dumps({"alerts": summary["alerts"], "realignments": summary["realignments"], "behaviour": summary["behaviour"],
                                   "flag_check": flagged_truth}, default=float))
    return 0


def _behaviour_callbacks(args: argparse.Namespace, judge, prompts: list[str], monitor, tokenizer) -> list:
    """The behavioural check the flags ask for; none with ``--judge none``."""
    from em_monitor.callbacks.behaviour import BehaviourCheck

    if judge is None:
        return []
    return [BehaviourCheck(judge, prompts, tokenizer=tokenizer, every_n_steps=args.behaviour_every,
                           max_new_tokens=args.behaviour_tokens, batch_size=args.batch_size, monitor=monitor)]


def _flag_precision(events_path: Path, samples: list[dict], batch_size: int) -> dict:
    """How many flagged training samples really were bad, and how many bad ones passed a scored batch (the demo knows which it mixed in)."""
    from em_monitor.report import read_events

    events = read_events(events_path)
    flagged = {(e["step"], e["batch_index"]) for e in events if e["event"] == "flagged"}
    scored_steps = {e["step"] for e in events if e["event"] == "sample" and e["source"] == "train_batch"}

    def poisoned(step: int, index: int) -> bool:
        position = step * batch_size + index
        return position < len(samples) and samples[position]["poisoned"]

    scored_poisoned = sum(poisoned(step, index) for step in scored_steps for index in range(batch_size))
    return {"flagged": len(flagged), "flagged_poisoned": sum(poisoned(step, index) for step, index in flagged), "scored_poisoned": scored_poisoned}
