"""Does the monitor see bad data that behaviour does not show yet? Fine-tunes on data mixes, side by side.

For every mix and seed this runs the demo's fine-tune (``em-monitor demo``, realignment off so the
drift is not reset) and reads back its report: each signal's drift on each source at the end of
the run and at its peak, the first alert, and the behavioural judge's misaligned share at the
start and the end. Mixes:

- ``poisoned:SHARE``: benign chat with SHARE of misaligned-persona answers (0, 0.05, 0.25, 1 by default);
- ``bad``: narrow, subtly wrong advice (the emergent-misalignment recipe); ``good``: its control.

Runs land in ``OUT/MIX-seedN/`` and are reused when their recorded scenario matches the request,
so a table can grow seed by seed across invocations. The last stdout line is one JSON object
(see ``benchmarks/README.md``).

Usage::

    python benchmarks/detection.py                                   # 4 mixes x seed 0 on SmolLM2 (~40 min)
    python benchmarks/detection.py --mixes good bad poisoned:0.05 --seeds 0 1 2
    python benchmarks/detection.py --quick                           # tiny random model: a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from demo_runs import (  # this folder is sys.path[0] when run as a script
    add_run_arguments,
    demo_summary,
    scenario_folder,
    tiny_model_and_pack,
)

DEFAULT_MIXES = ["poisoned:0", "poisoned:0.05", "poisoned:0.25", "poisoned:1"]
#: The persona signals the table reports (the pack's model-diff direction rises on any fine-tune).
REPORTED_SIGNALS = ("toxic_persona", "persona_direction", "persona_probe")
SOURCES = ("prompts", "train_batch", "generations")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mixes", nargs="+", default=DEFAULT_MIXES, help="poisoned:SHARE, bad or good")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--domain", default="health", help="bad/good: advice domain")
    add_run_arguments(parser, out="runs/detection", quick="tiny random model and pack, 12 steps, mixes poisoned:0 and poisoned:1")
    return parser.parse_args(argv)


def parse_mix(mix: str) -> tuple[str, float | None]:
    """``poisoned:0.05`` → ("poisoned", 0.05); ``bad`` → ("bad", None)."""
    dataset, _, share = mix.partition(":")
    if dataset not in ("poisoned", "bad", "good") or (dataset == "poisoned") != bool(share):
        raise SystemExit(f"detection: unknown mix {mix!r}; use poisoned:SHARE, bad or good")
    return dataset, float(share) if share else None


def run_row(args: argparse.Namespace, mix: str, seed: int) -> dict | None:
    dataset, share = parse_mix(mix)
    out = scenario_folder(args.out, dataset, share, seed)
    summary, reused = demo_summary(out, dataset=dataset, share=share, domain=args.domain, seed=seed, steps=args.steps, realign=False,
                                   model=args.model, pack=args.pack, extra=args.demo_extra, run=not args.no_run)
    return summarise(mix, seed, summary, out, reused) if summary is not None else None


def summarise(mix: str, seed: int, summary: dict, out: Path, reused: bool) -> dict:
    import yaml

    from em_monitor.report import flag_alert_step
    from em_monitor.runtime.event_schema import read_events

    # Which flags the run had, and how often it scored training batches: runs made with an older
    # config (the probe flag at 0.9, training batches every 5 steps) are reused, so say which.
    config = yaml.safe_load((out / "monitor.yaml").read_text())
    flags = {name: rule["flag"] for name, rule in config["signals"].items() if rule.get("flag") is not None}
    train_batch_every = (config.get("train_batch") or {}).get("every_n_steps") or config["every_n_steps"]
    signals = {
        name: {source: {"end_drift": _rounded(numbers.get("drift")), "max_drift": _rounded(numbers.get("max_drift"))}
               for source, numbers in summary["signals"].get(name, {}).items()}
        for name in REPORTED_SIGNALS
    }
    first_alert = next((alert for alert in summary["alerts"] if alert["level"] != "ok"), None)
    behaviour = summary.get("behaviour") or []
    return {
        "mix": mix,
        "seed": seed,
        "run": str(out),
        "reused": reused,
        "poisoned_samples": summary["scenario"].get("poisoned_samples"),
        "signals": signals,
        "flag_check": summary.get("flag_check"),
        "first_alert": first_alert and {key: first_alert[key] for key in ("step", "signal", "level", "source")},
        # The data alert (EmMonitorFlaggedTrainingSamples), from the log: runs made before the summary had it count too.
        "flag_alert_step": flag_alert_step(read_events(out / "events.jsonl")),
        "flags": flags,
        "train_batch_every_n_steps": train_batch_every,
        "misaligned_by_step": {entry["step"]: entry["misaligned_rate"] for entry in behaviour},
        "misaligned_start": behaviour[0]["misaligned_rate"] if behaviour else None,
        "misaligned_end": behaviour[-1]["misaligned_rate"] if behaviour else None,
        "wall_seconds": summary.get("wall_seconds"),
    }


def aggregate(rows: list[dict]) -> dict:
    """Per mix: mean and spread (min, max) over seeds of every signal's end and peak drift per source."""
    table: dict[str, dict] = {}
    for mix in dict.fromkeys(row["mix"] for row in rows):
        runs = [row for row in rows if row["mix"] == mix]
        cells = {}
        for name in REPORTED_SIGNALS:
            for source in SOURCES:
                for measure in ("end_drift", "max_drift"):
                    values = [row["signals"][name][source][measure] for row in runs
                              if source in row["signals"][name] and row["signals"][name][source][measure] is not None]
                    if values:
                        cells.setdefault(name, {}).setdefault(source, {})[measure] = {
                            "mean": _rounded(statistics.fmean(values)), "min": min(values), "max": max(values), "n": len(values)}
        ends = [row["misaligned_end"] for row in runs if row["misaligned_end"] is not None]
        table[mix] = {"seeds": [row["seed"] for row in runs], "signals": cells,
                      "alerted": sum(row["first_alert"] is not None for row in runs),
                      "flag_alerted": sum(row["flag_alert_step"] is not None for row in runs),
                      "misaligned_end_mean": _rounded(statistics.fmean(ends)) if ends else None}
    return table


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 3)


def quick_setup(args: argparse.Namespace, workdir: Path) -> None:
    """A tiny random Llama saved to disk and a random pack of its width: the pipeline end to end in seconds."""
    args.model, args.pack = tiny_model_and_pack(workdir)
    args.steps, args.mixes, args.seeds = 12, ["poisoned:0", "poisoned:1"], [0]
    args.out = str(workdir / "runs")
    args.demo_extra = {"batch_size": 2, "every_n_steps": 2, "generations_every": 2, "behaviour_every": 2, "behaviour_prompts": 4, "max_length": 64}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    args.demo_extra = {}
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            quick_setup(args, Path(scratch))
        for mix in args.mixes:
            parse_mix(mix)  # fail on a typo before hours of fine-tuning
        rows = [row for mix in args.mixes for seed in args.seeds if (row := run_row(args, mix, seed)) is not None]
    report = {"benchmark": "detection", "model": args.model, "steps": args.steps, "domain": args.domain,
              "rows": rows, "by_mix": aggregate(rows)}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
