"""``em-monitor train-probe``: fit persona probes on labelled chats; print and save AUROC, recall and a learning curve.

Writes to ``--out``: ``probe_<pooling>.safetensors`` (+ ``.json``) per residual pooling, the
SAE-basis and prompted probes when run, ``directions.safetensors`` (``persona_direction``),
``report.json`` and ``auroc_vs_examples.png``. The last stdout line is the report as one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from em_monitor.commands import argtypes
from em_monitor.commands.model_flags import add_model_flags, load_model_from


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser("train-probe", help="train linear probes from labelled JSONL; report held-out AUROC")
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or `smollm2` (embedded default)")
    add_model_flags(parser)
    parser.add_argument("--layer", type=argtypes.index, required=True, help="decoder block whose output is probed")
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", help='labelled chat JSONL: {"messages": [...], "label": "misaligned"|"aligned", "split"?: "train"|"test"}')
    data.add_argument("--domains", metavar="D1,D2,...|all",
                      help="leave-one-domain-out instead: the shipped narrow domains' subtly wrong (1) vs correct (0) advice; each "
                           "variant is trained on all domains but one and scored on that one (OUT/transfer.json, transfer.md)")
    parser.add_argument("--per-domain", type=argtypes.count, default=None, help="with --domains: the first N answers of each bad and good file")
    parser.add_argument("--advice-set", choices=("narrow", "minimal"), default="narrow",
                        help="with --domains: the templated sets (360 pairs a domain) or the minimal pairs (40 a domain, same words but the wrong ones)")
    parser.add_argument("--add-to-pack", metavar="PACK_DIR",
                        help="with --domains: score only the residual variants, fit the best on every listed domain and add it to this pack "
                             "as the `bad_advice` signal (log-odds; replaces an earlier one); --layer must be the pack's")
    parser.add_argument("--negatives", metavar="CHAT_JSONL",
                        help="with --add-to-pack: plain-chat answers (no advice) added to the shipped fit as correct, so that chat in a "
                             "training batch does not read as wrong advice")
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--sae", help="a sae-lens SAE directory, for the SAE-basis probe (variant `sae`)")
    parser.add_argument("--pooling", default="mean,max,last", help="residual-probe poolings, comma-separated (default: mean,max,last)")
    parser.add_argument("--variants", help="comma-separated from residual,sae,prompted,direction (default: all, sae only with --sae)")
    parser.add_argument("--seed", type=argtypes.index, default=0, help="split (when the file has none) and learning-curve draws")
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--max-length", type=argtypes.count, default=256, help="tokens per sample; longer chats are truncated")
    parser.add_argument("--C", type=argtypes.positive, default=1.0, dest="C", help="inverse L2 strength of the residual and prompted probes (standardised features)")
    parser.add_argument("--sae-C", type=argtypes.positive, default=0.1, dest="sae_C", help="inverse L1 strength of the SAE-basis probe")
    parser.add_argument("--curve-seeds", type=argtypes.count, default=5, help="random subsets averaged per learning-curve point")
    parser.set_defaults(handler=run)


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def run(args: argparse.Namespace) -> int:
    from em_monitor.models import ModelLoadError
    from em_monitor.offline.probe_training import (
        VARIANTS,
        check_variants,
        read_labelled_chats,
        save_outputs,
        train_probes,
    )
    from em_monitor.paths import Output, check_outputs
    from em_monitor.runtime.capture import CaptureError, decoder_blocks, hidden_size
    from em_monitor.runtime.pooling import check_pooling

    if args.domains is not None:
        return _run_transfer(args)
    started = time.perf_counter()
    try:
        check_outputs([Output("--out", Path(args.out), directory=True)], [("--data", args.data), ("--model", args.model), ("--sae", args.sae)])
        requested = _list(args.variants) if args.variants else [name for name in VARIANTS if name != "sae" or args.sae]
        variants = check_variants(requested, have_sae=args.sae is not None)
        poolings = [check_pooling(method) for method in _list(args.pooling)]
        data = read_labelled_chats(args.data)
        _status(f"{len(data.labels)} samples ({int(data.labels.sum())} misaligned) from {args.data}; loading {args.model}")
        loaded = load_model_from(args)
        n_blocks = len(decoder_blocks(loaded.model))
        if not 0 <= args.layer < n_blocks:
            raise CaptureError(f"--layer {args.layer} is out of range: {args.model} has decoder blocks 0..{n_blocks - 1}")
        sae = _load_sae(args.sae, hidden_size(loaded.model)) if "sae" in variants else None
        _status(f"variants {', '.join(variants)} at layer {args.layer}")
        result = train_probes(
            loaded.model, loaded.tokenizer, data, layer=args.layer, variants=variants, poolings=poolings, sae=sae,
            seed=args.seed, batch_size=args.batch_size, max_length=args.max_length, C=args.C, sae_C=args.sae_C,
            curve_seeds=args.curve_seeds, model_id=loaded.model_id,
        )
    except (ValueError, ModelLoadError, CaptureError, OSError) as error:
        return _failed(error)
    result.settings["wall_seconds"] = round(time.perf_counter() - started, 1)
    if args.sae:
        result.settings["sae"] = args.sae
    out = Path(args.out)
    save_outputs(result, out)
    _plot(result, out / "auroc_vs_examples.png")
    report = result.report()
    _print_table(report)
    print(json.dumps(report, separators=(",", ":")))
    return 0


def _run_transfer(args: argparse.Namespace) -> int:
    """``--domains``: leave-one-domain-out over the shipped narrow domains, every variant at ``--layer``."""
    from em_monitor.datasets import ADVICE_SETS, DATASETS, DOMAINS
    from em_monitor.errors import InputError
    from em_monitor.models import ModelLoadError
    from em_monitor.offline.domain_transfer import domain_samples, leave_one_domain_out, markdown_table, ranked, transfer_features
    from em_monitor.packs import load_pack
    from em_monitor.offline.bad_advice import residual_transfer_features
    from em_monitor.paths import Output, check_outputs
    from em_monitor.runtime.capture import CaptureError, check_layer, decoder_blocks, hidden_size

    started = time.perf_counter()
    try:
        names = list(DOMAINS) if args.domains.strip() == "all" else _list(args.domains)
        unknown = [name for name in names if name not in DOMAINS]
        if unknown:
            raise InputError(f"--domains: unknown domain(s) {', '.join(unknown)}; the shipped ones are {', '.join(DOMAINS)} (or 'all')")
        out = Path(args.out)
        check_outputs([Output("--out", out, directory=True)], [("--model", args.model), ("--sae", args.sae)])
        pack = load_pack(args.add_to_pack) if args.add_to_pack else None
        if pack is not None and args.layer != pack.layer:
            raise InputError(f"--layer {args.layer}: the pack in --add-to-pack {args.add_to_pack} reads layer {pack.layer}; pass --layer {pack.layer}")
        file = ADVICE_SETS[args.advice_set]
        samples = domain_samples({name: (DATASETS[file.format(domain=name, kind="bad")], DATASETS[file.format(domain=name, kind="good")])
                                  for name in names}, per_domain=args.per_domain)
        _status(f"{len(samples.labels)} answers from {len(names)} domains; loading {args.model}")
        loaded = load_model_from(args)
        check_layer(args.layer, len(decoder_blocks(loaded.model)), field="--layer")
        sae = _load_sae(args.sae, hidden_size(loaded.model)) if args.sae else None
        if pack is not None:
            features = residual_transfer_features(loaded.model, loaded.tokenizer, samples, layer=args.layer, batch_size=args.batch_size,
                                                  max_length=args.max_length)
        else:
            features = transfer_features(loaded.model, loaded.tokenizer, samples, layer=args.layer, sae=sae, batch_size=args.batch_size,
                                         max_length=args.max_length)
        results = leave_one_domain_out(features, samples, curve_seeds=args.curve_seeds, seed=args.seed, C=args.C, sae_C=args.sae_C)
        if pack is not None:
            _add_bad_advice(args, loaded, pack, features, samples, results, started)
    except (ValueError, ModelLoadError, CaptureError, OSError) as error:
        return _failed(error)
    table = markdown_table(results)
    report = {"model": loaded.model_id, "layer": args.layer, "advice_set": args.advice_set, "domains": names, "per_domain": args.per_domain, "sae": args.sae,
              "n": len(samples.labels), "seed": args.seed, "wall_seconds": round(time.perf_counter() - started, 1),
              "variants": [result.to_dict() for result in ranked(results)]}
    out.mkdir(parents=True, exist_ok=True)
    (out / "transfer.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "transfer.md").write_text(f"{loaded.model_id}, layer {args.layer}, {args.advice_set} advice: leave-one-domain-out over {', '.join(names)}\n\n{table}")
    print(table)
    print(json.dumps({"best": report["variants"][0]["variant"], "mean_auroc": report["variants"][0]["mean_auroc"], "added_to_pack": args.add_to_pack,
                      "wall_seconds": report["wall_seconds"], "out": str(out)}))
    return 0


def _add_bad_advice(args: argparse.Namespace, loaded, pack, features, samples, results, started: float) -> None:
    """``--add-to-pack``: the best packable variant, fitted on every listed domain, becomes the pack's ``bad_advice`` signal."""
    from em_monitor.datasets import DATASETS, DOMAINS
    from em_monitor.chat import read_chat_jsonl
    from em_monitor.offline.bad_advice import add_to_pack, choose_variant, fit_bad_advice, negative_features
    from em_monitor.offline.probe_training import read_labelled_chats
    from em_monitor.prompts import load_prompts

    chosen = choose_variant(results)
    negatives = None
    if args.negatives:
        chats = read_chat_jsonl(args.negatives)
        negatives = negative_features(loaded.model, loaded.tokenizer, chats, chosen.variant, layer=args.layer, batch_size=args.batch_size,
                                      max_length=args.max_length)
    probe = fit_bad_advice(features, samples, chosen, C=args.C, negatives=negatives)
    labelled = read_labelled_chats(DATASETS["persona_responses"])
    aligned = [conversation for conversation, label in zip(labelled.conversations, labelled.labels) if label == 0]
    prompts = load_prompts(str(pack.spec.built.get("prompts", "builtin:eval")))
    command = " ".join(["em-monitor train-probe", *sys.argv[2:]]) if len(sys.argv) > 1 and sys.argv[1] == "train-probe" else "train-probe"
    provenance = {"by": command, "advice_set": args.advice_set, "per_domain": args.per_domain, "negatives": args.negatives,
                  "negative_samples": 0 if negatives is None else len(negatives),
                  "held_out_domains": [name for name in DOMAINS if name not in samples.names],
                  "seconds": round(time.perf_counter() - started, 1)}
    _status(f"adding {chosen.variant} (held-out-domain AUROC {chosen.mean_auroc:.3f}) to {pack.root} as `bad_advice`; baselines next")
    add_to_pack(loaded.model, loaded.tokenizer, pack.root, probe, prompts=prompts, aligned_answers=aligned, provenance=provenance,
                batch_size=args.batch_size, max_length=args.max_length)


def _failed(error: Exception) -> int:
    """One line on stderr: the message alone for the errors that explain themselves, the type too for the others."""
    from em_monitor.errors import InputError
    from em_monitor.models import ModelLoadError

    kind = "" if isinstance(error, (InputError, ModelLoadError)) else f"{type(error).__name__}: "
    print(f"train-probe: {kind}{error}", file=sys.stderr)
    return 1


def _status(message: str) -> None:
    print(f"train-probe: {message}", file=sys.stderr, flush=True)


def _load_sae(path: str, d_model: int):
    from em_monitor.saes import SaeError, load_sae

    try:
        return load_sae(path, d_model=d_model)
    except SaeError as error:
        raise ValueError(f"--sae {error}; use an SAE trained on this model (`em-monitor build-sae`)") from None


def _print_table(report: dict) -> None:
    variants = report["variants"]
    sizes = [point["n"] for point in next(iter(variants.values()))["learning_curve"]]
    header = f"{'variant':<16}{'AUROC':>7}{'R@1%FPR':>9}  " + " ".join(f"{'n=' + str(n):>7}" for n in sizes)
    print(f"{report['model']} layer {report['layer']}: {report['n_train']} train / {report['n_test']} test ({report['split']})")
    print(header)
    for name, variant in variants.items():
        curve = {point["n"]: point["auroc_mean"] for point in variant["learning_curve"]}
        cells = " ".join(f"{curve[n]:>7.3f}" if n in curve else f"{'':>7}" for n in sizes)
        extra = f"  ({variant['latents_used']}/{variant['d_sae']} latents)" if "latents_used" in variant else ""
        print(f"{name:<16}{variant['auroc']:>7.3f}{variant['recall_at_1pct_fpr']:>9.3f}  {cells}{extra}")


def _plot(result, path: Path) -> None:
    from em_monitor.plotting import new_figure, save_figure

    figure, (axes,) = new_figure(7, 4.5)
    for name, variant in result.variants.items():
        curve = variant.learning_curve
        axes.errorbar(
            [point["n"] for point in curve], [point["auroc_mean"] for point in curve], yerr=[point["auroc_std"] for point in curve],
            marker="o", capsize=3, label=f"{name} ({variant.auroc:.3f})",
        )
    axes.axhline(0.5, color="grey", linestyle="--", linewidth=1)
    axes.set_xscale("log", base=2)
    sizes = sorted({point["n"] for variant in result.variants.values() for point in variant.learning_curve})
    axes.set_xticks(sizes, [str(n) for n in sizes])
    axes.minorticks_off()
    axes.set_ylim(0.3, 1.02)
    axes.set_xlabel("training examples")
    axes.set_ylabel("held-out AUROC")
    axes.set_title(f"{result.model}, layer {result.layer}\nheld-out AUROC ({result.n_test} test samples) vs training examples", fontsize=10)
    axes.legend(loc="lower right", fontsize=8)
    save_figure(figure, path)
