"""``em-monitor audit``: score every sample of a fine-tuning set with a pack's signals; JSONL in input order."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from em_monitor.commands import argtypes
from em_monitor.commands.model_flags import add_model_flags, load_model_from


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "audit",
        help="score every sample of a fine-tuning dataset with a pack's signals; JSONL ranked output",
        description="Pool each signal of the pack over every training answer's tokens (as the monitor does), z-score "
        "it against the pack's 'responses' baseline (else robustly against the dataset), flag z >= --z (probes: "
        "probability >= 0.5), rank by mean z, and compare with the model's own greedy answer to the same prompt "
        "(projection difference). Writes OUT (one JSON line per input sample, in input order) and "
        "OUT.summary.json; the summary also goes to stderr. With `label` keys in the data, the summary has AUROCs.",
    )
    parser.add_argument("--model", default="smollm2", help="the model about to be fine-tuned: HF id, local path, or 'smollm2'")
    add_model_flags(parser)
    parser.add_argument("--pack", required=True, help="persona pack directory, or builtin:NAME")
    parser.add_argument("--data", required=True, help="chat JSONL to audit (optional `label`: misaligned/aligned, 1/0, true/false)")
    parser.add_argument("--out", required=True, help="output JSONL; the summary goes to OUT.summary.json")
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--max-length", type=argtypes.count, default=256, help="tokens per sample, longer ones are truncated")
    parser.add_argument("--no-generate", dest="generate", action="store_false", help="skip the base model's answers (no projection_difference)")
    parser.add_argument("--max-new-tokens", type=argtypes.count, default=48, help="length of the base model's greedy answers (default 48)")
    parser.add_argument("--z", type=argtypes.number, default=3.0, help="flag a signal at this z-score or above (default 3.0)")
    parser.add_argument("--seed", type=argtypes.index, default=0, help="accepted for symmetry with the other verbs; greedy decoding is deterministic")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.chat import ChatFormatError, read_chat_jsonl
    from em_monitor.models import ModelLoadError
    from em_monitor.offline.audit import audit_samples, read_labels, summary_path
    from em_monitor.packs import PackError, load_pack, pack_directory
    from em_monitor.paths import Output, check_outputs

    try:
        pack = load_pack(args.pack)
        out = Path(args.out)
        check_outputs([Output("--out", out), Output("--out (summary)", summary_path(out))],
                      [("--data", args.data), ("--pack", pack_directory(args.pack)), ("--model", args.model)])
        conversations = read_chat_jsonl(args.data)
        labels = read_labels(args.data)
        loaded = load_model_from(args)
        result = audit_samples(
            loaded.model, loaded.tokenizer, pack, conversations, labels=labels, generate=args.generate,
            z_threshold=args.z, batch_size=args.batch_size, max_length=args.max_length, max_new_tokens=args.max_new_tokens,
        )
    except (ValueError, OSError, ModelLoadError, PackError, ChatFormatError) as error:
        message = str(error)
        print(message if message.startswith("audit:") else f"audit: {message}", file=sys.stderr)
        return 1
    result.summary.update({"model": loaded.model_id, "pack": str(pack.root), "data": args.data})
    summary_file = result.write(args.out)
    _report(result.summary, args.out, summary_file)
    return 0


def _report(summary: dict, out: str, summary_file) -> None:
    """A readable digest, then the summary JSON as the last stderr line."""
    flagged = ", ".join(f"{name} {count}" for name, count in summary["flagged"].items())
    lines = [
        f"audit: {summary['samples']} samples, {summary['flagged_any']} flagged ({flagged}) -> {out}",
        f"audit: most suspicious: {', '.join(map(str, summary['top']))}",
    ]
    if "auroc" in summary:
        aurocs = ", ".join(f"{name} {value:.3f}" if value is not None else f"{name} n/a" for name, value in summary["auroc"].items())
        lines.append(f"audit: AUROC on {summary['labelled']} labelled samples: {aurocs}")
    per_100 = summary["seconds_per_100_samples"]
    lines.append(f"audit: {per_100['scoring']:.1f} s per 100 samples to score" + (f", {per_100['total']:.1f} s with the base model's own answers" if "total" in per_100 else ""))
    lines.append(f"audit: summary in {summary_file}")
    print("\n".join(lines), file=sys.stderr)
    print(json.dumps(summary), file=sys.stderr)
