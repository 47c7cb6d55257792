"""Run an `em-monitor demo` scenario for a benchmark, or reuse a finished run of exactly that scenario.

The detection and realignment benchmarks are built from demo fine-tunes of 10-20 minutes each on
two CPU cores, so a table grows seed by seed across invocations: a run folder whose recorded
scenario (data, share, domain, seed, length, realignment on or off) matches the request is read
back instead of being run again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import yaml

#: The root of the benchmark runs kept in the repository (each run's event log, config and summary;
#: ``runs/.gitignore`` keeps out the rest), so ``--no-run`` re-derives a table from a clean clone.
COMMITTED_RUNS = Path(__file__).resolve().parent / "runs"


def add_run_arguments(parser: argparse.ArgumentParser, *, out: str, quick: str) -> None:
    """The options every benchmark built from demo runs shares: model, pack, where runs live, tabulate-only, and the smoke run."""
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--pack", default="builtin:smollm2")
    parser.add_argument("--out", default=out, help="run folders, reused when their recorded scenario matches")
    parser.add_argument("--no-run", action="store_true", help="tabulate the finished runs in --out only; run nothing")
    parser.add_argument("--quick", action="store_true", help=quick)


def scenario_folder(root: str | Path, dataset: str, share: float | None, seed: int, *, tag: str = "") -> Path:
    """``ROOT/poisoned-0.05-seed0`` style folder names: one per scenario and seed."""
    mix = f"{dataset}-{share:g}" if share is not None else dataset
    return Path(root) / f"{mix}{tag}-seed{seed}"


def demo_summary(out: Path, *, dataset: str, share: float | None, domain: str, seed: int, steps: int, realign: bool,
                 model: str, pack: str, extra: dict, run: bool = True, match: dict | None = None) -> tuple[dict | None, bool]:
    """The run's ``summary.json`` and whether it was reused; runs the demo when no matching run exists
    (with ``run=False``, returns ``(None, False)`` instead: tabulating what is there). ``extra``: more
    :class:`~em_monitor.finetune.demo.DemoOptions` fields; ``match``: more recorded scenario fields a
    reused run must have (``lr``, ``lora_rank``)."""
    from em_monitor.finetune.demo import DemoOptions, run_demo

    wanted = {"dataset": dataset, "seed": seed, "share": share, "domain": None if share is not None else domain, **(match or {})}
    if _matches(out, wanted, steps, realign):
        return json.loads((out / "summary.json").read_text()), True
    if not run:
        return None, False
    scenario = {"share": share} if share is not None else {"domain": domain}
    run_demo(DemoOptions(dataset=dataset, steps=steps, seed=seed, model=model, pack=pack, port=0, out=str(out),
                         no_realign=not realign, **scenario, **extra))
    return json.loads((out / "summary.json").read_text()), False


def _matches(out: Path, wanted: dict, steps: int, realign: bool) -> bool:
    if not (out / "summary.json").is_file() or not (out / "monitor.yaml").is_file():
        return False
    summary = json.loads((out / "summary.json").read_text())
    scenario = summary.get("scenario", {})
    realigns = "realign" in yaml.safe_load((out / "monitor.yaml").read_text())["actions"]["on_critical"]
    # A run with realignment on that never realigned trained exactly like one with it off.
    same_training = realigns == realign or (not realign and not summary.get("realignments"))
    return summary.get("steps") == steps and same_training and all(scenario.get(key) == value for key, value in wanted.items())


def tiny_model_and_pack(workdir: Path) -> tuple[str, str]:
    """A tiny random Llama saved to disk and a random pack of its width, for a benchmark's ``--quick`` run."""
    from em_monitor.tiny import random_pack, tiny_llama, tiny_tokenizer

    tiny_llama().save_pretrained(workdir / "model")
    tiny_tokenizer().save_pretrained(workdir / "model")
    return str(workdir / "model"), str(random_pack(workdir / "pack"))
