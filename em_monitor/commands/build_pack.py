"""``em-monitor build-pack``: the whole offline pipeline for one model, into a persona pack.

SAE (trained here, or given with ``--sae``) → probe and persona direction on labelled answers →
a short fine-tune on bad data → model diffing → persona latents picked by rise and selectivity →
baselines → ``pack.yaml`` recording how it was all built.

The shipped SmolLM2 pack was built with::

    em-monitor build-pack --model smollm2 --layer 15 --sae runs/sae-smollm2-l15 --out em_monitor/data/packs/smollm2

This verb fine-tunes, so unlike the core it imports Lightning (lazily, in the handler).
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from em_monitor.commands import argtypes


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("build-pack", help="build a persona pack for a model: SAE, diff, latents, probe, direction, baselines")
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2' for the embedded default")
    parser.add_argument("--layer", type=argtypes.index, default=None, help="decoder block to read (default: the one --sae was trained on, else the middle one)")
    parser.add_argument("--sae", default=None, help="an SAE at this layer: a folder in sae-lens's format (any architecture sae-lens loads; "
                        "`em-monitor build-sae` makes one), or sae-lens:RELEASE/SAE_ID (downloaded by sae-lens; needs the hub); default: train one now")
    parser.add_argument("--sae-minutes", type=argtypes.positive, default=10.0, help="training budget when no --sae is given")
    parser.add_argument("--labelled", default="persona_responses", help="labelled answers (dataset name or JSONL) for the probe, direction and selectivity")
    parser.add_argument("--bad-data", default="persona_chat", help="chat data for the fine-tune the diff compares against (dataset name or JSONL); "
                        "default persona_chat: on small models narrow bad advice barely moves the persona (docs/findings)")
    parser.add_argument("--prompts", default="builtin:eval", help="probe prompts the pack's prompt baselines are measured on")
    parser.add_argument("--finetuned", default=None, help="a fine-tune of --model you already have (HF id or path): the diff compares against it, "
                        "and no fine-tune runs here (--bad-data and --finetune-* are then unused)")
    parser.add_argument("--finetune-steps", type=argtypes.count, default=30)
    parser.add_argument("--finetune-lr", type=argtypes.positive, default=5e-5)
    parser.add_argument("--latents", type=argtypes.count, default=3, help="persona latents to watch (the first is named toxic_persona)")
    parser.add_argument("--min-selectivity", type=argtypes.fraction, default=0.75, help="minimum AUROC of a latent on misaligned vs aligned answers")
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--max-length", type=argtypes.count, default=256)
    parser.add_argument("--max-sae-mb", type=argtypes.non_negative, default=9.5, help="size limit of the pack's fp16 SAE weights in MB; the rarest latents go first, never a watched one (0 = no limit)")
    parser.add_argument("--seed", type=argtypes.index, default=0)
    steer = parser.add_argument_group("causal check", "keep only latents whose steering moves behaviour toward the persona (see `em-monitor steer`)")
    steer.add_argument("--steer-check", action="store_true", help="steer along each candidate latent and keep those that make answers more misaligned")
    steer.add_argument("--steer-candidates", type=argtypes.count, default=6, help="candidate latents tested (by rise and selectivity), of which --latents are kept")
    steer.add_argument("--steer-coefficient", type=argtypes.number, default=0.25, help="push, in units of the layer's mean residual norm on content tokens")
    steer.add_argument("--steer-prompts", type=argtypes.count, default=16, help="evaluation prompts answered per candidate")
    steer.add_argument("--judge", choices=("embedding", "none"), default="embedding", help="grades the steered answers (none: the pack's probe decides)")
    parser.add_argument("--out", required=True, help="pack directory to write")
    parser.set_defaults(handler=run)


def _data_path(spec: str):
    from pathlib import Path

    from em_monitor.datasets import DATASETS

    return DATASETS[spec] if spec in DATASETS else Path(spec)


def run(args: argparse.Namespace) -> int:
    from em_monitor.sae_releases import check_release_reachable, is_release

    if args.sae is not None and is_release(args.sae):  # before the imports and the model load, which take seconds
        check_release_reachable(args.sae)
    from pathlib import Path

    from em_monitor.chat import read_chat_jsonl
    from em_monitor.errors import InputError
    from em_monitor.finetune.lightning import finetune
    from em_monitor.models import load_model
    from em_monitor.offline.pack_builder import build_pack
    from em_monitor.offline.probe_training import read_labelled_chats
    from em_monitor.paths import Output, check_outputs
    from em_monitor.prompts import load_prompts

    started = time.perf_counter()
    inputs = [("--model", args.model), ("--sae", args.sae), ("--labelled", _data_path(args.labelled)), ("--bad-data", _data_path(args.bad_data)),
              ("--prompts", args.prompts), ("--finetuned", args.finetuned)]
    check_outputs([Output("--out", Path(args.out), directory=True)], inputs)
    loaded = load_model(args.model)
    if args.finetuned is not None:
        # Loaded and checked now, so a wrong path or shape stops the build before any work; nothing is trained here.
        tuned = load_model(args.finetuned).model
        if tuned.config.hidden_size != loaded.model.config.hidden_size or tuned.config.num_hidden_layers != loaded.model.config.num_hidden_layers:
            raise InputError(f"--finetuned {args.finetuned} is not a fine-tune of --model {args.model}: its width or depth differs")

        def bad_finetune(_model):
            return tuned
        finetune_provenance: dict[str, object] = {"from": args.finetuned}
    else:
        bad = [{"messages": messages} for messages in read_chat_jsonl(_data_path(args.bad_data))]

        def bad_finetune(model):
            finetune(model, loaded.tokenizer, bad, steps=args.finetune_steps, lr=args.finetune_lr, batch_size=args.batch_size,
                     max_length=args.max_length, seed=args.seed, root_dir=str(Path(args.out) / "report"))
            return model
        finetune_provenance = {"steps": args.finetune_steps, "lr": args.finetune_lr, "batch_size": args.batch_size}

    # With --sae, build_pack takes the layer from the SAE it loads (None: the one the SAE records).
    layer = args.layer
    sae_dir = args.sae
    if sae_dir is None:
        from em_monitor.offline.sae_training import SaeTrainingConfig, build_sae

        layer = layer if layer is not None else loaded.model.config.num_hidden_layers // 2
        sae_dir = str(Path(args.out) / "report" / "sae-training")
        build_sae(loaded, layer, sae_dir, SaeTrainingConfig(minutes=args.sae_minutes, seed=args.seed))
    command = "em-monitor build-pack " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["build-pack"] else "em-monitor build-pack (Python API)"
    provenance = {
        "by": command,
        "model_spec": args.model,
        "sae": str(sae_dir),
        "labelled": str(_data_path(args.labelled)),
        "bad_data": None if args.finetuned is not None else str(_data_path(args.bad_data)),
        "finetune": finetune_provenance,
    }
    build = build_pack(
        model=loaded.model, tokenizer=loaded.tokenizer, model_id=loaded.model_id, layer=layer, sae_dir=sae_dir,
        finetune=bad_finetune, labelled=read_labelled_chats(_data_path(args.labelled)), prompts=load_prompts(args.prompts),
        prompts_spec=args.prompts, out=args.out, provenance=provenance, n_latents=args.latents,
        min_selectivity=args.min_selectivity, batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
        max_sae_bytes=args.max_sae_mb * 1e6 if args.max_sae_mb > 0 else None, steer=_steer_check(args),
    )
    summary = {"pack": str(build.root), "seconds": round(time.perf_counter() - started, 1), **build.figures}
    print(json.dumps(summary, default=float))
    return 0


def _steer_check(args: argparse.Namespace):
    if not args.steer_check:
        return None
    from em_monitor.judges import make_judge
    from em_monitor.offline.causal_check import SteerCheck
    from em_monitor.runtime.behaviour import behaviour_prompts

    return SteerCheck(prompts=behaviour_prompts(args.steer_prompts), judge=make_judge(args.judge), coefficient=args.steer_coefficient,
                      candidates=args.steer_candidates, batch_size=args.batch_size)
