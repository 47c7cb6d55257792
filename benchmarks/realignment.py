"""How much benign data and time the automatic realignment needs to bring a drifting run back.

Runs the demo's poisoned scenario with realignment on (``em-monitor demo``, the default) for each
seed, or reuses a finished run of exactly that scenario, and reads every realignment episode
from its event log: the step the critical alert fired, each attempt's benign samples and the
drift after it, the outcome (``recovered``, ``failed``, or ``unfinished`` when the run ended
mid-episode), and the wall time from the alert to the last attempt. The last stdout line is one
JSON object (see ``benchmarks/README.md``).

Usage::

    python benchmarks/realignment.py                    # poisoned 50 %, seed 0 on SmolLM2 (~9 min, or reused)
    python benchmarks/realignment.py --seeds 0 1 2
    python benchmarks/realignment.py --quick            # tiny random model: a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from demo_runs import (  # this folder is sys.path[0] when run as a script
    demo_summary,
    scenario_folder,
    tiny_model_and_pack,
)

if TYPE_CHECKING:
    from em_monitor.runtime.event_schema import ActionEvent, Event, RealignmentEvent


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--share", type=float, default=0.5, help="share of misaligned-persona samples (the demo's default)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--pack", default="builtin:smollm2")
    parser.add_argument("--out", default="runs/realignment")
    parser.add_argument("--quick", action="store_true", help="tiny random model and pack: runs and reads the pipeline end to end (a random model rarely alerts; tests/test_realign.py reads episodes from a planted shift)")
    return parser.parse_args(argv)


def episodes(events: list[Event]) -> list[dict]:
    """One entry per realignment episode: from a started ``realign`` action to its last attempt."""
    from em_monitor.runtime.event_schema import ActionEvent, RealignmentEvent

    found: list[tuple[ActionEvent, list[RealignmentEvent]]] = []
    for event in events:
        if isinstance(event, ActionEvent) and event.action == "realign" and event.started:
            found.append((event, []))
        elif isinstance(event, RealignmentEvent) and found:
            found[-1][1].append(event)
    return [_episode_figures(alert, attempts) for alert, attempts in found]


def _episode_figures(alert: ActionEvent, attempts: list[RealignmentEvent]) -> dict:
    last = attempts[-1] if attempts else None
    outcome = "unfinished" if last is None or last.outcome == "retry" else last.outcome
    return {
        "alert_step": alert.step,
        "outcome": outcome,
        "attempts": len(attempts),
        "benign_samples": sum(attempt.samples for attempt in attempts),
        "steps": (last.step - alert.step) if last else 0,
        "wall_seconds": round(last.time - alert.time, 1) if last else 0.0,
        "drift_before": alert.before or {},
        "drift_after_each_attempt": [attempt.after for attempt in attempts],
    }


def quick_setup(args: argparse.Namespace, workdir: Path) -> None:
    args.model, args.pack = tiny_model_and_pack(workdir)
    args.steps, args.seeds, args.out = 12, [0], str(workdir / "runs")
    args.demo_extra = {"batch_size": 2, "every_n_steps": 2, "generations_every": 2, "behaviour_every": 4, "behaviour_prompts": 4, "max_length": 64,
                       "realign_samples": 4, "judge": "none"}


def main(argv: list[str] | None = None) -> dict:
    from em_monitor.runtime.event_schema import read_events

    args = parse_args(argv)
    args.demo_extra = {}
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            quick_setup(args, Path(scratch))
        for seed in args.seeds:
            out = scenario_folder(args.out, "poisoned", args.share, seed)
            summary, reused = demo_summary(out, dataset="poisoned", share=args.share, domain="health", seed=seed, steps=args.steps,
                                           realign=True, model=args.model, pack=args.pack, extra=args.demo_extra)
            events = read_events(out / "events.jsonl")
            behaviour = summary.get("behaviour") or []
            rows.append({"seed": seed, "run": str(out), "reused": reused, "episodes": episodes(events),
                         "misaligned_by_step": {entry["step"]: entry["misaligned_rate"] for entry in behaviour}})
    recovered = [episode for row in rows for episode in row["episodes"] if episode["outcome"] == "recovered"]
    report = {
        "benchmark": "realignment", "model": args.model, "share": args.share, "steps": args.steps, "rows": rows,
        "episodes": sum(len(row["episodes"]) for row in rows),
        "recovered": len(recovered),
        "median_benign_samples_to_recover": statistics.median(e["benign_samples"] for e in recovered) if recovered else None,
        "median_seconds_to_recover": statistics.median(e["wall_seconds"] for e in recovered) if recovered else None,
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
