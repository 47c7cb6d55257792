"""``em-monitor build-pack``: the whole offline pipeline for one model, into a persona pack.

(Optionally) the layer, by held-out AUROC across ``--layers`` → SAE (trained here, or given with
``--sae``) → probe and persona direction on labelled answers → a short fine-tune on bad data (or
``--finetuned`` one the user has, or ``--no-diff``) → model diffing → persona latents picked by
rise and selectivity → baselines → ``pack.yaml`` recording how it was all built.

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
from em_monitor.commands.model_flags import add_model_flags, load_model_from, loading_record

#: In ``--sae``, replaced by the layer the pack reads: one spec for a release with an SAE per layer.
LAYER_FIELD = "{layer}"


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("build-pack", help="build a persona pack for a model: SAE, diff, latents, probe, direction, baselines")
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2' for the embedded default")
    add_model_flags(parser)
    parser.add_argument("--layer", type=argtypes.index, default=None,
                        help="decoder block to read (default: the best of --layers, else the one --sae was trained on, else the middle one)")
    parser.add_argument("--layers", default=None, metavar="L1,L2,...|auto",
                        help="score the probe and direction at these blocks ('auto': a spread across depth), report held-out AUROC by layer "
                             "(report/layers.json, layers.png), and build at the best unless --layer or a fixed --sae says otherwise")
    parser.add_argument("--sae", default=None, help="an SAE at this layer: a folder in sae-lens's format (any architecture sae-lens loads; "
                        "`em-monitor build-sae` makes one), or sae-lens:RELEASE/SAE_ID (downloaded by sae-lens; needs the hub); "
                        f"{LAYER_FIELD} in it is replaced by the layer (a release with an SAE per layer); default: train one now")
    parser.add_argument("--sae-minutes", type=argtypes.positive, default=10.0, help="training budget when no --sae is given")
    parser.add_argument("--labelled", default="persona_responses", help="labelled answers (dataset name or JSONL) for the probe, direction and selectivity")
    parser.add_argument("--bad-data", default="persona_chat", help="chat data for the fine-tune the diff compares against (dataset name or JSONL); "
                        "default persona_chat: on small models narrow bad advice barely moves the persona (docs/findings)")
    parser.add_argument("--prompts", default="builtin:eval", help="probe prompts the pack's prompt baselines are measured on")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--finetuned", default=None, help="a fine-tune of --model you already have (HF id or path): the diff compares against it, "
                        "and no fine-tune runs here (--bad-data and --finetune-* are then unused)")
    source.add_argument("--no-diff", action="store_true", help="no fine-tune and no diff: persona latents by selectivity on --labelled alone "
                        "(the pack then has no model_diff_direction); for models too big to fine-tune here")
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

    from em_monitor.errors import InputError
    from em_monitor.offline.pack_builder import build_pack
    from em_monitor.offline.probe_training import read_labelled_chats
    from em_monitor.paths import Output, check_outputs
    from em_monitor.prompts import load_prompts

    started = time.perf_counter()
    if args.device_map is not None and args.finetuned is None and not args.no_diff:
        raise InputError("--device-map: the in-tool fine-tune for the diff trains on one device; with a model spread over devices, "
                         "pass --finetuned PATH (a fine-tune you already have) or --no-diff")
    if args.sae is not None and LAYER_FIELD in args.sae and args.layer is None and args.layers is None:
        raise InputError(f"--sae {args.sae}: {LAYER_FIELD} needs the layer from --layer or --layers")
    inputs = [("--model", args.model), ("--sae", args.sae), ("--labelled", _data_path(args.labelled)), ("--bad-data", _data_path(args.bad_data)),
              ("--prompts", args.prompts), ("--finetuned", args.finetuned)]
    check_outputs([Output("--out", Path(args.out), directory=True)], inputs)
    loaded = load_model_from(args)
    finetune, finetune_provenance = _finetune(args, loaded)
    labelled = read_labelled_chats(_data_path(args.labelled))
    layer, sweep_provenance = _choose_layer(args, loaded, labelled)
    # With a fixed --sae, build_pack takes the layer from the SAE it loads (None: the one the SAE records).
    sae_dir = args.sae.replace(LAYER_FIELD, str(layer)) if args.sae is not None and LAYER_FIELD in args.sae else args.sae
    if sae_dir is None:
        from em_monitor.offline.sae_training import SaeTrainingConfig, build_sae

        # build_sae takes the middle block when no layer is chosen and records it, and build_pack reads it back from the SAE.
        sae_dir = str(Path(args.out) / "report" / "sae-training")
        build_sae(loaded, layer, sae_dir, SaeTrainingConfig(minutes=args.sae_minutes, seed=args.seed))
    command = "em-monitor build-pack " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["build-pack"] else "em-monitor build-pack (Python API)"
    provenance = {
        "by": command,
        "model_spec": args.model,
        "loading": loading_record(args),
        "labelled": str(_data_path(args.labelled)),
        "bad_data": str(_data_path(args.bad_data)) if finetune is not None and args.finetuned is None else None,
        "finetune": finetune_provenance,
        **({"layers": sweep_provenance} if sweep_provenance else {}),
    }
    build = build_pack(
        model=loaded.model, tokenizer=loaded.tokenizer, model_id=loaded.model_id, layer=layer, sae_dir=sae_dir,
        finetune=finetune, labelled=labelled, prompts=load_prompts(args.prompts),
        prompts_spec=args.prompts, out=args.out, provenance=provenance, n_latents=args.latents,
        min_selectivity=args.min_selectivity, batch_size=args.batch_size, max_length=args.max_length, seed=args.seed,
        max_sae_bytes=args.max_sae_mb * 1e6 if args.max_sae_mb > 0 else None, steer=_steer_check(args),
    )
    summary = {"pack": str(build.root), "layer": build.layer, "seconds": round(time.perf_counter() - started, 1), **build.figures,
               **({"layer_sweep": sweep_provenance} if sweep_provenance else {})}
    print(json.dumps(summary, default=float))
    return 0


def _finetune(args: argparse.Namespace, loaded):
    """The fine-tune the diff compares against (None with --no-diff), and how it was made, for pack.yaml."""
    from em_monitor.errors import InputError
    from em_monitor.runtime.capture import decoder_blocks, hidden_size

    if args.no_diff:
        return None, None
    if args.finetuned is not None:
        # Loaded and checked now, so a wrong path or shape stops the build before any work; nothing is trained here.
        tuned = load_model_from(args, args.finetuned).model
        if (hidden_size(tuned), len(decoder_blocks(tuned))) != (hidden_size(loaded.model), len(decoder_blocks(loaded.model))):
            raise InputError(f"--finetuned {args.finetuned} is not a fine-tune of --model {args.model}: its width or depth differs")
        return (lambda _model: tuned), {"from": args.finetuned}
    from pathlib import Path

    from em_monitor.chat import read_chat_jsonl
    from em_monitor.finetune.lightning import finetune

    bad = [{"messages": messages} for messages in read_chat_jsonl(_data_path(args.bad_data))]

    def bad_finetune(model):
        finetune(model, loaded.tokenizer, bad, steps=args.finetune_steps, lr=args.finetune_lr, batch_size=args.batch_size,
                 max_length=args.max_length, seed=args.seed, root_dir=str(Path(args.out) / "report"))
        return model
    return bad_finetune, {"steps": args.finetune_steps, "lr": args.finetune_lr, "batch_size": args.batch_size}


def _choose_layer(args: argparse.Namespace, loaded, labelled) -> tuple[int | None, dict[str, object] | None]:
    """--layer, else the best of --layers when the SAE can follow it; and the sweep's record for pack.yaml."""
    if args.layers is None:
        return args.layer, None
    from pathlib import Path

    from em_monitor.offline.layer_sweep import parse_layers, sweep_layers
    from em_monitor.runtime.capture import decoder_blocks

    layers = parse_layers(args.layers, len(decoder_blocks(loaded.model)))
    sweep = sweep_layers(loaded.model, loaded.tokenizer, labelled, layers, seed=args.seed, batch_size=args.batch_size, max_length=args.max_length)
    report, figure = sweep.save(Path(args.out) / "report", title=f"{loaded.model_id}: held-out AUROC by layer")
    record = {"swept": layers, "best": sweep.best, "report": str(report), "figure": str(figure)}
    fixed_sae = args.sae is not None and LAYER_FIELD not in args.sae
    if args.layer is not None or fixed_sae:
        if args.layer is None or args.layer != sweep.best:
            print(f"build-pack: the best layer of {layers} is {sweep.best}; the pack reads "
                  f"{'--layer ' + str(args.layer) if args.layer is not None else 'the layer --sae was trained on'}", file=sys.stderr)
        return args.layer, record
    return sweep.best, record


def _steer_check(args: argparse.Namespace):
    if not args.steer_check:
        return None
    from em_monitor.judges import make_judge
    from em_monitor.offline.causal_check import SteerCheck
    from em_monitor.runtime.behaviour import behaviour_prompts

    return SteerCheck(prompts=behaviour_prompts(args.steer_prompts), judge=make_judge(args.judge), coefficient=args.steer_coefficient,
                      candidates=args.steer_candidates, batch_size=args.batch_size)
