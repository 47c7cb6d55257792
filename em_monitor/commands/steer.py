"""``em-monitor steer``: push the model along a persona signal's direction and grade what it says."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from em_monitor.commands import argtypes

if TYPE_CHECKING:
    import torch

DEFAULT_COEFFICIENTS = [-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3]


def register(verbs: argparse._SubParsersAction) -> None:
    parser = verbs.add_parser(
        "steer",
        help="causal check: steer along a persona signal's direction, grade the answers (judge, probe, coherence)",
        description="Add COEFFICIENT x (typical residual norm) x the signal's unit direction (an SAE latent's decoder "
        "row, a probe's weights, or a direction) to the output of the pack's layer, answer the evaluation prompts "
        "greedily, and grade the answers with the behavioural judge, the pack's signals and the judge's coherence. "
        "Writes OUT/steer.json (one row per coefficient, with every answer and its verdict) and OUT/steer.png. The last stdout "
        "line is a JSON summary.",
    )
    parser.add_argument("--model", default="smollm2", help="HF id, local path, or 'smollm2' (default)")
    parser.add_argument("--pack", default="builtin:smollm2", help="persona pack whose signal is steered along")
    parser.add_argument("--signal", default="toxic_persona", help="pack signal to steer along (default toxic_persona)")
    parser.add_argument("--coefficients", type=argtypes.number, nargs="+", default=DEFAULT_COEFFICIENTS,
                        help="in units of the layer's mean residual norm on content tokens (default: -0.3 -0.2 -0.1 0 0.1 0.2 0.3; on SmolLM2 answers stop making sense beyond about ±0.3)")
    parser.add_argument("--prompts", type=argtypes.count, default=16, help="evaluation prompts, round-robin over their categories (default 16)")
    parser.add_argument("--max-new-tokens", type=argtypes.count, default=40)
    parser.add_argument("--batch-size", type=argtypes.count, default=8)
    parser.add_argument("--judge", choices=("embedding", "none"), default="embedding", help="behavioural judge (none: probe and signals only)")
    parser.add_argument("--out", default="runs/steer")
    check = parser.add_argument_group("causal check of a built pack (what build-pack --steer-check does, without rebuilding)")
    check.add_argument("--check", action="store_true",
                       help="instead of a sweep, steer along every SAE-latent signal of the pack at --check-coefficient and say per "
                       "signal whether answers became more misaligned (judge; the pack's probe on a tie); writes OUT/steer-check.json")
    check.add_argument("--check-coefficient", type=argtypes.number, default=0.25, help="steering strength of the check (default 0.25, as build-pack)")
    check.add_argument("--record", action="store_true", help="with --check: write each signal's evidence into the pack's pack.yaml (`steering` key)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from em_monitor.judges import make_judge
    from em_monitor.models import ModelLoadError, load_model
    from em_monitor.offline.causal_check import latent_directions
    from em_monitor.offline.steering import steering_sweep
    from em_monitor.packs import PackError, load_pack
    from em_monitor.paths import Output, check_outputs
    from em_monitor.runtime.behaviour import behaviour_prompts
    from em_monitor.runtime.capture import hidden_size

    try:
        if args.record and not args.check:
            raise ValueError("--record only goes with --check (a sweep's table is not pack evidence)")
        pack = load_pack(args.pack)
        # --record writes the pack's pack.yaml on purpose; the sweep's own files must not land in the pack.
        check_outputs([Output("--out", Path(args.out), directory=True)], [("--pack", pack.root), ("--model", args.model)])
        directions = latent_directions(pack) if args.check else {args.signal: pack.steering_vector(args.signal)}
        signals = pack.build_signals()
        loaded = load_model(args.model)
        pack.check_width(hidden_size(loaded.model))
    except (PackError, ModelLoadError, OSError, ValueError) as error:
        print(f"steer: {error}", file=sys.stderr)
        return 1
    judge = make_judge(args.judge)
    prompts = behaviour_prompts(args.prompts)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.check:
        return run_check(args, pack, signals, directions, loaded, judge, prompts, out)
    norm, points = steering_sweep(
        loaded.model, loaded.tokenizer, prompts, layer=pack.layer, direction=directions[args.signal], coefficients=args.coefficients,
        judge=judge, signals=signals, max_new_tokens=args.max_new_tokens, batch_size=args.batch_size,
    )
    report = {
        "model": loaded.model_id, "pack": str(args.pack), "signal": args.signal, "layer": pack.layer,
        "unit_norm": norm, "judge": judge.name if judge else None, "prompts": prompts,
        "rows": [point.as_dict() for point in points],
    }
    (out / "steer.json").write_text(json.dumps(report, indent=2))
    plot_sweep(report, out / "steer.png")
    print(json.dumps({"out": str(out), "signal": args.signal, "unit_norm": round(norm, 3), "rows": [
        {key: row[key] for key in ("coefficient", "misaligned_rate", "coherent_mean")} | {"signal": row["signal_means"].get(args.signal)}
        for row in report["rows"]]}))
    return 0


def run_check(args: argparse.Namespace, pack, signals, directions: dict[str, torch.Tensor], loaded, judge, prompts: list[str], out: Path) -> int:
    """``--check``: one verdict per SAE-latent signal; with ``--record``, kept in pack.yaml."""
    from em_monitor.offline.causal_check import (
        SteerCheck,
        check_pack_latents,
        with_steering_evidence,
    )
    from em_monitor.packs import write_pack_spec

    check = SteerCheck(prompts=prompts, judge=judge, coefficient=args.check_coefficient,
                       max_new_tokens=args.max_new_tokens, batch_size=args.batch_size)
    evidence = check_pack_latents(loaded.model, loaded.tokenizer, pack, signals, directions, check)
    report = {"model": loaded.model_id, "pack": str(args.pack), "layer": pack.layer, "prompts": prompts,
              "signals": {name: verdict.model_dump() for name, verdict in evidence.items()}}
    (out / "steer-check.json").write_text(json.dumps(report, indent=2))
    if args.record:
        # Normalised from the options, not sys.argv, so the record reproduces the evidence whoever called it.
        command = shlex.join(["em-monitor", "steer", "--check", "--record", "--model", args.model, "--pack", args.pack,
                              "--check-coefficient", str(args.check_coefficient), "--prompts", str(args.prompts),
                              "--max-new-tokens", str(args.max_new_tokens), "--judge", args.judge])
        write_pack_spec(pack.root, with_steering_evidence(pack.spec, evidence, command))
    print(json.dumps({"out": str(out), "recorded": str(pack.root) if args.record else None, "signals": {
        name: {key: getattr(verdict, key) for key in ("moved", "misaligned_unsteered", "misaligned_steered", "probe_unsteered", "probe_steered")}
        for name, verdict in evidence.items()}}))
    return 0


def plot_sweep(report: dict, path: Path) -> Path:
    """Misalignment and coherence (left axis, %) and the steered signal on the answers (right axis) against the coefficient."""
    from em_monitor.plotting import new_figure, save_figure

    rows = report["rows"]
    coefficients = [row["coefficient"] for row in rows]
    figure, (left,) = new_figure(7, 4)
    if report["judge"]:
        left.plot(coefficients, [100 * (row["misaligned_rate"] or 0) for row in rows], "o-", color="tab:red", label="misaligned answers (%)")
        left.plot(coefficients, [row["coherent_mean"] or 0 for row in rows], "s--", color="tab:gray", label="coherence (0-100)")
    left.set_xlabel(f"steering coefficient (x {report['unit_norm']:.1f}, the mean residual norm at layer {report['layer']})")
    left.set_ylim(-5, 105)
    right = left.twinx()
    right.plot(coefficients, [row["signal_means"].get(report["signal"], float("nan")) for row in rows], "^:", color="tab:blue",
               label=f"{report['signal']} on the answers")
    right.set_ylabel(report["signal"])
    handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
    left.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    left.set_title(f"Steering along {report['signal']} ({report['model']})")
    return save_figure(figure, path)
