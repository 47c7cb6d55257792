"""``em-monitor diff``: rank SAE latents by how much fine-tuning raised them; JSON + plot + direction."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from em_monitor.commands import argtypes
from em_monitor.offline.diffing import RANK_METRICS


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "diff",
        help="model diffing: rank SAE latents by activation change between a base and a fine-tuned model",
        description="Run the base and the fine-tuned model on identical inputs (eval prompts over the user's text, "
        "--texts chats over their answers), encode block --layer's residuals with the SAE, and rank latents by the "
        "increase of their mean per-sample max activation. Writes OUT/diff.json (top latents, deltas, top-activating "
        "snippets, cosines with the mean-difference direction), OUT/diff.png and OUT/diff_direction.safetensors. "
        "The last stdout line is a JSON summary.",
    )
    parser.add_argument("--base", default="smollm2", help="base model: HF id, local path, or 'smollm2' (default)")
    parser.add_argument("--finetuned", required=True, help="fine-tuned model: a save_pretrained directory or a Lightning .ckpt of CausalLMModule")
    parser.add_argument("--sae", required=True, help="SAE directory in sae-lens's format, trained on the base model")
    parser.add_argument("--layer", type=argtypes.index, default=None, help="decoder block whose output is read (default: the SAE's hook point)")
    parser.add_argument("--prompts", default="builtin:eval", help="eval prompts: builtin:NAME, .txt or .jsonl (default builtin:eval)")
    parser.add_argument("--texts", nargs="+", action="extend", default=[], metavar="FILE", help="chat JSONL files whose answers are also compared")
    parser.add_argument("--corpus", nargs="+", action="extend", default=None, metavar="FILE", help="chat JSONL files for top-activating snippets (default: the inputs)")
    parser.add_argument("--top-k", type=argtypes.count, default=20, help="latents to report (default 20)")
    parser.add_argument("--rank-by", choices=list(RANK_METRICS), default="max", help="per-sample pooling that is ranked (default max)")
    parser.add_argument("--snippets", type=argtypes.count, default=5, help="top-activating snippets per latent (default 5)")
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--max-length", type=argtypes.count, default=256, help="tokens per input, longer ones are truncated")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--seed", type=argtypes.index, default=0, help="accepted for symmetry with the other verbs; diffing is deterministic")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.chat import ChatFormatError
    from em_monitor.models import ModelLoadError, load_model
    from em_monitor.offline.diffing import chats_from, diff_models, load_finetuned
    from em_monitor.paths import Output, check_outputs
    from em_monitor.prompts import load_prompts

    try:
        inputs = [("--base", args.base), ("--finetuned", args.finetuned), ("--sae", args.sae), ("--prompts", args.prompts)]
        check_outputs([Output("--out", Path(args.out), directory=True)], inputs + [("--texts", p) for p in args.texts] + [("--corpus", p) for p in args.corpus or []])
        sae = _load_sae(args.sae)
        layer = _layer(args.layer, sae, args.sae)
        prompts = load_prompts(args.prompts) if args.prompts else []
        texts = chats_from(args.texts)
        corpus = chats_from(args.corpus) if args.corpus else None
        base = load_model(args.base)
        finetuned = load_finetuned(args.finetuned, base)
        report = diff_models(
            base.model, finetuned.model, base.tokenizer, sae, layer, prompts, texts,
            top_k=args.top_k, corpus=corpus, rank_by=args.rank_by, snippets=args.snippets,
            batch_size=args.batch_size, max_length=args.max_length,
        )
    except (ValueError, OSError, KeyError, ModelLoadError, ChatFormatError) as error:
        message = str(error)
        print(message if message.startswith("diff:") else f"diff: {message}", file=sys.stderr)
        return 1
    report.metadata.update({
        "base": base.model_id, "finetuned": finetuned.model_id, "sae": str(args.sae), "prompts": args.prompts,
        "texts": list(args.texts), "corpus": list(args.corpus) if args.corpus else "inputs (prompts, then texts)",
    })
    path = report.save(args.out)
    print(json.dumps({"out": str(path), **report.summary()}))
    return 0


def _load_sae(path: str):
    from em_monitor.saes import SaeError, load_sae

    try:
        return load_sae(path)
    except SaeError as error:
        raise ValueError(f"diff: --sae {error}; train one with `em-monitor build-sae`") from None


def _layer(requested: int | None, sae, source: str) -> int:
    """The layer to read: the one in the SAE's hook name, which ``--layer``, if given, must equal."""
    from em_monitor.saes import SaeError, sae_read_layer

    try:
        layer = sae_read_layer(requested, sae, source)
    except SaeError as error:
        raise ValueError(f"diff: --sae {error}") from None
    if layer is None:
        raise ValueError(f"diff: the SAE does not record its layer (hook name {getattr(sae.cfg.metadata, 'hook_name', None)!r}); pass --layer")
    return layer
