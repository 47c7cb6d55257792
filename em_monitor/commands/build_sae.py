"""``em-monitor build-sae``: train an SAE on a model's residual stream with sae-lens; save it in sae-lens's format."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from em_monitor.commands import argtypes
from em_monitor.offline.sae_training import (
    ARCHITECTURES,
    DEFAULT_SPARSITY,
    SaeTrainingConfig,
)

_DEFAULTS = SaeTrainingConfig()


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "build-sae",
        help="train an SAE (sae-lens) on a model's residual stream at a layer",
        description="Collect content-token residuals at --layer on an offline corpus (CPython's pydoc prose, the "
        "project's chat datasets, --corpus files), train an SAE with sae-lens's own trainer, save it in sae-lens's "
        "format (cfg.json + sae_weights.safetensors, taking raw residuals) with report.json beside it. The report "
        "JSON is the last line of stdout.",
    )
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2' for the embedded default")
    parser.add_argument("--layer", type=argtypes.index, default=None, help="decoder block whose output is read (default: the middle one)")
    parser.add_argument("--out", required=True, help="directory for the SAE and report.json")
    parser.add_argument("--architecture", choices=list(ARCHITECTURES), default=_DEFAULTS.architecture)
    parser.add_argument("--expansion", type=argtypes.count, default=_DEFAULTS.expansion, help="latents per model dimension (d_sae = expansion * d_model)")
    sparsity = parser.add_mutually_exclusive_group()
    sparsity.add_argument("--l1", type=argtypes.positive, help=f"standard: L1 coefficient (default {DEFAULT_SPARSITY['l1']})")
    sparsity.add_argument("--l0-target", type=argtypes.positive, help=f"jumprelu: target L0 (default {DEFAULT_SPARSITY['l0_target']:g})")
    sparsity.add_argument("--k", type=argtypes.count, help=f"topk: active latents per token (default {DEFAULT_SPARSITY['k']})")
    parser.add_argument("--tokens", type=argtypes.count, default=_DEFAULTS.tokens, help="content tokens to collect, training + held-out (~600/s on 2 cores for SmolLM2)")
    parser.add_argument("--minutes", type=argtypes.positive, default=_DEFAULTS.minutes, help="time budget of the training steps (model load and collection come on top)")
    parser.add_argument("--steps", type=argtypes.index, default=None, help="fix the number of training steps instead of deriving it from --minutes")
    parser.add_argument("--batch-size", type=argtypes.count, default=_DEFAULTS.batch_size, help="tokens per training step")
    parser.add_argument("--lr", type=argtypes.positive, default=_DEFAULTS.lr)
    parser.add_argument("--seed", type=argtypes.index, default=_DEFAULTS.seed)
    parser.add_argument("--corpus", action="append", default=[], metavar="PATH", help="extra corpus file: .txt (blank-line paragraphs) or chat .jsonl; repeatable")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.models import ModelLoadError
    from em_monitor.offline.sae_training import build_sae
    from em_monitor.paths import Output, check_outputs

    try:
        check_outputs([Output("--out", Path(args.out), directory=True)], [("--model", args.model), *(("--corpus", path) for path in args.corpus)])
        config = SaeTrainingConfig(
            architecture=args.architecture, expansion=args.expansion, l1=args.l1, l0_target=args.l0_target, k=args.k,
            tokens=args.tokens, minutes=args.minutes, steps=args.steps, batch_size=args.batch_size, lr=args.lr, seed=args.seed,
        )
        report = build_sae(args.model, args.layer, args.out, config, corpus_files=args.corpus)
    except (ValueError, OSError, ModelLoadError) as error:
        print(f"build-sae: {error}" if not str(error).startswith("build-sae") else error, file=sys.stderr)
        return 1
    print(json.dumps(report))
    return 0
