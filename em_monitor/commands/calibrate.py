"""``em-monitor calibrate``: drift thresholds that keep benign fine-tunes quiet, from control runs.

Controls are monitor event logs of fine-tunes on good data: given with ``--events`` (any past
monitored run), or run here with ``--run-controls N`` (the demo's ``good`` scenario, N seeds, no
realignment, no judge). Writes ``thresholds.yaml`` (a ``signals:`` block for a monitor config,
headed by the command that made it) and ``calibration.json`` (control peaks, leave-one-out
false-alert rate, and for each ``--check`` run the step it would first alert at).

With ``--flag-data CLEAN.jsonl`` it also scores every sample of known-clean training data with
the model and pack and sets per-sample ``flag`` thresholds just above the clean maximum
(:mod:`em_monitor.offline.flag_calibration`): the data-side detector for poison too sparse to move drift.

With ``--sequential NAME=SIG,...`` it fits a CUSUM rule on the same control runs (in-control model,
weights, decision intervals at a stated false-alarm rate, leave-one-out estimate:
:mod:`em_monitor.offline.sequential_calibration`) and writes it as a ``sequential:`` block.
"""

from __future__ import annotations

import argparse
import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from em_monitor.commands import argtypes
from em_monitor.offline.flag_calibration import DEFAULT_MARGIN

if TYPE_CHECKING:
    from rich.table import Table


def register(verbs: argparse._SubParsersAction) -> None:
    from em_monitor.datasets import DOMAINS

    parser = verbs.add_parser("calibrate", help="per-signal drift thresholds from control fine-tunes on good data (YAML fragment)")
    parser.add_argument("--events", nargs="*", default=[], help="event logs (events.jsonl) of benign control runs")
    parser.add_argument("--run-controls", type=argtypes.index, default=0, metavar="N", help="also run N control fine-tunes here (demo --dataset good, seeds 0..N-1)")
    parser.add_argument("--domain", default="health", choices=DOMAINS, help="--run-controls: advice domain of the good data")
    parser.add_argument("--steps", type=argtypes.count, default=60, help="--run-controls: optimizer steps per control run")
    parser.add_argument("--model", default="smollm2", help="--run-controls and --flag-data: model (HF id, path, or smollm2)")
    parser.add_argument("--pack", default="builtin:smollm2", help="--run-controls and --flag-data: persona pack")
    parser.add_argument("--sources", nargs="+", default=["generations"], help="sources the thresholds apply to (the rule's `sources`)")
    parser.add_argument("--signals", nargs="*", help="signals to calibrate (default: every signal all controls measured)")
    parser.add_argument("--margin", type=argtypes.number, default=1.0, help="warn = highest control peak + margin (σ)")
    parser.add_argument("--critical-gap", type=argtypes.number, default=1.0, help="critical = warn + gap (σ)")
    flags = parser.add_argument_group("per-sample flags (data-side detection)")
    flags.add_argument("--flag-data", nargs="*", default=[], help="chat JSONL of known-clean training data; each sample scored with --model and --pack")
    flags.add_argument("--flag-signals", nargs="*", help="signals to give a flag threshold (default: every pack signal whose threshold is usable)")
    flags.add_argument("--flag-margin", type=argtypes.number, default=DEFAULT_MARGIN, help="flag = highest clean value + margin x the clean values' std")
    flags.add_argument("--flag-max-length", type=argtypes.count, default=160, help="tokens per sample, as the training collator truncates them (the demo's --max-length)")
    sequential = parser.add_argument_group("sequential (CUSUM) rules: evidence summed over passes and signals")
    sequential.add_argument("--sequential", nargs="*", default=[], metavar="NAME=SIG[,SIG...][@SOURCE]",
                            help="fit a sequential rule on the control runs (source default: generations), e.g. narrow=persona_direction,persona_probe,toxic_persona")
    sequential.add_argument("--cusum-reference", type=argtypes.number, default=0.5, help="CUSUM allowance k per pass (about half the shift to detect, in in-control stds)")
    sequential.add_argument("--false-alarm-rate", type=argtypes.number, default=0.05, help="expected warn alerts per clean run that sets warn (critical: a tenth of it)")
    parser.add_argument("--check", nargs="*", default=[], help="event logs of runs to judge with the new thresholds (e.g. poisoned or bad runs)")
    parser.add_argument("--out", default="runs/calibrate", help="folder for thresholds.yaml and calibration.json")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    import yaml
    from rich.console import Console
    from rich.table import Table

    from em_monitor.models import ModelLoadError
    from em_monitor.offline.calibration import (
        calibrate,
        config_fragment,
        first_crossings,
        read_run,
    )
    from em_monitor.offline.sequential_calibration import calibrate_sequential, config_block, parse_rule_spec, sequential_crossings
    from em_monitor.packs import pack_directory
    from em_monitor.paths import Output, check_outputs

    console = Console()
    out = Path(args.out)
    outputs = [Output("--out", out / "thresholds.yaml"), Output("--out", out / "calibration.json")]
    outputs += [Output("--run-controls", out / f"control-seed{seed}", directory=True) for seed in range(args.run_controls)]
    inputs = [("--events", path) for path in args.events] + [("--check", path) for path in args.check] + [("--flag-data", path) for path in args.flag_data]
    check_outputs(outputs, [*inputs, ("--pack", pack_directory(args.pack)), ("--model", args.model)])
    out.mkdir(parents=True, exist_ok=True)
    event_logs = [Path(path) for path in args.events] + _run_controls(args, out)
    if not event_logs and not args.flag_data:
        console.print("[red]em-monitor calibrate: no control runs; give --events FILE... or --run-controls N (or only --flag-data, for flags alone)[/red]")
        return 2
    if args.sequential and not event_logs:
        console.print("[red]em-monitor calibrate: --sequential needs control runs (--events or --run-controls)[/red]")
        return 2
    try:
        controls = [read_run(path) for path in event_logs]
        # Flags alone need no control runs: they come from clean data, not from runs.
        thresholds = calibrate(controls, sources=args.sources, margin=args.margin, critical_gap=args.critical_gap, signals=args.signals) if controls else {}
        rules = {}
        for spec in args.sequential:
            name, signals, source = parse_rule_spec(spec)
            rules[name] = calibrate_sequential(controls, name, signals, source=source, reference=args.cusum_reference, false_alarm_rate=args.false_alarm_rate)
        checked = {path: read_run(path) for path in args.check}
        checks = {path: first_crossings(run, thresholds) for path, run in checked.items()}
        sequential_checks = {path: {name: sequential_crossings(run, fitted.rule) for name, fitted in rules.items()} for path, run in checked.items()}
        flags, unusable = _flag_thresholds(args) if args.flag_data else ({}, {})
    except (OSError, ValueError, ModelLoadError) as error:
        console.print(f"[red]em-monitor calibrate: {error}[/red]")
        return 1
    command = "em-monitor calibrate " + shlex.join(_argv(args))
    header = f"# Calibrated by: {command}\n# Controls: {', '.join(map(str, event_logs)) or 'none (per-sample flags only)'}\n"
    fragment = config_fragment(thresholds, flags={name: f.flag for name, f in flags.items()})
    if rules:
        fragment["sequential"] = config_block(rules)
    (out / "thresholds.yaml").write_text(header + yaml.safe_dump(fragment, sort_keys=False))
    report = {"command": command, "controls": [str(path) for path in event_logs], "sources": args.sources, "margin": args.margin,
              "critical_gap": args.critical_gap, "signals": {name: t.as_dict() for name, t in thresholds.items()}, "checks": checks,
              "flags": {"data": args.flag_data, "margin": args.flag_margin, "max_length": args.flag_max_length,
                        "signals": {name: f.as_dict() for name, f in flags.items()}, "unusable": unusable},
              "sequential": {"false_alarm_target": args.false_alarm_rate, "rules": {name: fitted.as_dict() for name, fitted in rules.items()},
                             "checks": sequential_checks}}
    (out / "calibration.json").write_text(json.dumps(report, indent=2))

    table = Table(title=f"{len(controls)} control run(s), sources {', '.join(args.sources)}")
    for column in ("signal", "control peaks (σ)", "warn", "critical", "false alerts (LOO)", *[Path(path).parent.name or path for path in args.check]):
        table.add_column(column)
    for name, t in thresholds.items():
        rate = "n/a (1 run)" if t.false_alert_rate is None else f"{t.false_alert_rate:.0%}"
        crossed = [_crossing_text(checks[path][name]) for path in args.check]
        table.add_row(name, ", ".join(f"{peak:+.2f}" for peak in t.control_peaks), f"{t.warn:.2f}", f"{t.critical:.2f}", rate, *crossed)
    console.print(table)
    if rules:
        console.print(_sequential_table(rules, sequential_checks, args.false_alarm_rate))
    for name, flag in flags.items():
        console.print(f"flag {name}: {flag.flag:.4g} (clean max {flag.clean_max:.4g}, p99 {flag.clean_p99:.4g}, {flag.samples} clean samples; "
                      f"held-out false flags {flag.held_out_false_flag_rate:.2%} per sample)")
    for name, why in unusable.items():
        console.print(f"[yellow]no flag for {name}: {why}[/yellow]")
    console.print(f"wrote {out / 'thresholds.yaml'} and {out / 'calibration.json'}")
    return 0


def _crossing_text(crossing: dict) -> str:
    if crossing["peak"] is None:
        return "not measured"
    where = f"critical@{crossing['critical_step']}" if crossing["critical_step"] is not None else (
        f"warn@{crossing['warn_step']}" if crossing["warn_step"] is not None else "quiet")
    return f"peak {crossing['peak']:+.2f}, {where}"


def _sequential_table(rules: dict, checks: dict[str, dict], target: float) -> Table:
    from rich.table import Table  # noqa: F811 — imported here at run time, above for the annotation only

    table = Table(title=f"sequential rules (CUSUM), false-alarm target {target:g} per clean run")
    for column in ("rule", "source", "control max", "warn", "critical", "false alarms (LOO / simulated)", *[Path(path).parent.name or path for path in checks]):
        table.add_column(column)
    for name, fitted in rules.items():
        rate = "n/a (1 run)" if fitted.false_alarm_rate is None else f"{fitted.false_alarm_rate:.0%}"
        crossed = [_crossing_text(checks[path][name]) for path in checks]
        table.add_row(name, fitted.rule.source, ", ".join(f"{value:.2f}" for value in fitted.control_max), f"{fitted.rule.warn:.1f}",
                      f"{fitted.rule.critical:.1f}", f"{rate} / {fitted.simulated_false_alarm_rate:.1%}", *crossed)
    return table


def _run_controls(args: argparse.Namespace, out: Path) -> list[Path]:
    """Run the demo's good-data scenario once per seed; return the event logs."""
    from em_monitor.finetune.demo import DemoOptions, run_demo

    logs = []
    for seed in range(args.run_controls):
        folder = out / f"control-seed{seed}"
        run_demo(DemoOptions(dataset="good", domain=args.domain, steps=args.steps, seed=seed, model=args.model, pack=args.pack,
                             no_realign=True, judge="none", port=0, out=str(folder)))
        logs.append(folder / "events.jsonl")
    return logs


def _flag_thresholds(args: argparse.Namespace) -> tuple[dict, dict[str, str]]:
    """Score the clean data with the model and pack; per-sample flag thresholds for the chosen signals."""
    from em_monitor.chat import read_chat_jsonl
    from em_monitor.models import load_model
    from em_monitor.offline.audit import score_answers
    from em_monitor.offline.flag_calibration import flag_thresholds
    from em_monitor.packs import load_pack
    from em_monitor.runtime.capture import hidden_size

    pack = load_pack(args.pack)
    names = [spec.name for spec in pack.spec.signals]
    unknown = sorted(set(args.flag_signals or []) - set(names))
    if unknown:
        raise ValueError(f"--flag-signals: the pack has no signal {', '.join(unknown)} (has: {', '.join(names)})")
    conversations = [chat for path in args.flag_data for chat in read_chat_jsonl(path)]
    loaded = load_model(args.model)
    pack.check_width(hidden_size(loaded.model))
    scores = score_answers(loaded.model, loaded.tokenizer, pack.build_signals(), pack.layer, conversations,
                           max_length=args.flag_max_length, description="calibrate: scoring clean samples")
    chosen = {name: scores[name] for name in (args.flag_signals or names)}
    ceilings = {spec.name: spec.ceiling for spec in pack.spec.signals if spec.ceiling is not None}
    return flag_thresholds(chosen, ceilings, margin=args.flag_margin)


def _argv(args: argparse.Namespace) -> list[str]:
    """This call's options, normalised, for the record in thresholds.yaml (rerunning it reproduces the file)."""
    argv = ["--sources", *args.sources, "--margin", str(args.margin), "--critical-gap", str(args.critical_gap), "--out", args.out]
    if args.signals:
        argv += ["--signals", *args.signals]
    if args.events:
        argv += ["--events", *args.events]
    if args.run_controls:
        argv += ["--run-controls", str(args.run_controls), "--domain", args.domain, "--steps", str(args.steps)]
    if args.flag_data:
        argv += ["--flag-data", *args.flag_data, "--flag-margin", str(args.flag_margin), "--flag-max-length", str(args.flag_max_length)]
        if args.flag_signals:
            argv += ["--flag-signals", *args.flag_signals]
    if args.run_controls or args.flag_data:
        argv += ["--model", args.model, "--pack", args.pack]
    if args.sequential:
        argv += ["--sequential", *args.sequential, "--cusum-reference", str(args.cusum_reference), "--false-alarm-rate", str(args.false_alarm_rate)]
    if args.check:
        argv += ["--check", *args.check]
    return argv
