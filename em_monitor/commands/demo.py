"""``em-monitor demo``: the main job. Fine-tune the embedded model with the monitor attached.

The command line of :func:`em_monitor.finetune.demo.run_demo`: every flag is a field of
:class:`~em_monitor.finetune.demo.DemoOptions`. ``--trainer hf`` runs the same job through the
Hugging Face ``Trainer`` instead of Lightning. This verb trains, so it imports a training
framework (lazily, in the handler), unlike the core modules.
"""

from __future__ import annotations

import argparse

from em_monitor.commands import argtypes
from em_monitor.finetune.demo import DEFAULT_SHARE, TRAINERS, DemoOptions


def register(verbs: argparse._SubParsersAction) -> None:
    from em_monitor.datasets import DOMAINS
    from em_monitor.judges import JUDGES
    from em_monitor.scenarios import SCENARIOS

    parser = verbs.add_parser("demo", help="fine-tune the embedded model with the monitor attached; report to --out")
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2' for the embedded default")
    parser.add_argument("--pack", default="builtin:smollm2", help="persona pack for the model")
    parser.add_argument("--trainer", choices=TRAINERS, default="lightning", help="training framework: Lightning (default) or the Hugging Face Trainer")
    parser.add_argument("--dataset", choices=SCENARIOS, default="poisoned", help="training-data scenario")
    parser.add_argument("--share", type=argtypes.fraction, default=DEFAULT_SHARE, help="poisoned: share of misaligned-persona samples")
    parser.add_argument("--domain", default="health", choices=DOMAINS, help="bad/good: advice domain")
    parser.add_argument("--steps", type=argtypes.count, default=60, help="optimizer steps (each ~5 s on 2 CPU cores at batch 8)")
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--max-length", type=argtypes.count, default=160)
    parser.add_argument("--lr", type=argtypes.positive, default=5e-5)
    parser.add_argument("--lora-rank", type=argtypes.index, default=0, help="0: full fine-tune; R: train rank-R LoRA adapters instead (needs peft: the `lora` extra)")
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


def run(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from rich.console import Console

    from em_monitor.finetune.demo import run_demo

    console = Console()
    options = DemoOptions(**{field.name: getattr(args, field.name) for field in fields(DemoOptions)})
    try:
        run_demo(options, console)
    except ValueError as error:  # options that cannot run (a judge without its URL): said before any model loads
        console.print(f"[red]em-monitor demo: {error}[/red]")
        return 2
    return 0
