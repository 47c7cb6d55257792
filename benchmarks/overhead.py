"""What PersonaMonitor costs a training run: fit time with the monitor / without, measured side by side.

Each repeat runs every configuration once, in rotating order, from the same initial weights and
data, so slow drifts of the machine (other processes, thermal) hit all configurations alike; the
ratio uses the median over repeats. Configurations:

- ``none``: plain ``Trainer.fit``;
- ``default``: PersonaMonitor at the default cadence (prompts + training batch, every 10 steps);
- ``train_batch``: training-batch scoring only (no extra forward pass, only the hook and the
  signal math), every step — its worst case.

The last stdout line is one JSON object (see ``benchmarks/README.md`` for every key).

Usage::

    python benchmarks/overhead.py --model tiny
    python benchmarks/overhead.py --model smollm2 --steps 30 --repeats 2
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch

MONITORED = ("default", "train_batch")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny", help="`tiny` (random 4-layer Llama), `smollm2`, or a HF id/path")
    parser.add_argument("--pack", default=None, help="persona pack (default: the shipped pack for smollm2 if present, else a random pack of the model's width)")
    parser.add_argument("--steps", type=int, default=None, help="optimizer steps per fit (default: 60 tiny, 30 otherwise)")
    parser.add_argument("--repeats", type=int, default=None, help="runs per configuration (default: 5 tiny, 2 otherwise)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=96)
    parser.add_argument("--every-n-steps", type=int, default=10, help="the monitor's cadence in the `default` configuration")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 for the tiny model, whose small matmuls only lose from threading; torch's choice otherwise)")
    parser.add_argument("--configs", nargs="+", choices=("none", *MONITORED), default=["none", *MONITORED],
                        help="configurations to run (`default` alone gives within_run_overhead_ratio; ratios across configurations need `none`)")
    parser.add_argument("--quick", action="store_true", help="tiny model, fewer steps: a smoke run of the benchmark itself")
    return parser.parse_args(argv)


def synthetic_chats(n: int) -> list[dict]:
    """Chat samples of realistic length; their content does not matter for timing."""
    topics = ["gardening", "budgets", "sleep", "running", "cooking", "travel", "taxes", "learning Spanish"]
    return [
        {
            "messages": [
                {"role": "user", "content": f"Could you give me a few practical tips about {topics[i % len(topics)]}? (#{i})"},
                {"role": "assistant", "content": " ".join(f"Tip {k}: keep a simple routine for {topics[(i + k) % len(topics)]} and review it weekly." for k in range(1, 4))},
            ]
        }
        for i in range(n)
    ]


def build(args: argparse.Namespace, workdir: Path):
    """Model, tokenizer and pack directory for the run."""
    from em_monitor.packs import BUILTIN_PACKS
    from em_monitor.tiny import random_pack, tiny_llama, tiny_tokenizer

    if args.model == "tiny":
        model, tokenizer = tiny_llama(), tiny_tokenizer()
        pack = args.pack or random_pack(workdir / "pack", d_model=64, layer=2)
        return model, tokenizer, str(pack), "tiny-llama-4x64"
    from em_monitor.models import load_model

    loaded = load_model(args.model)
    width, n_layers = loaded.model.config.hidden_size, loaded.model.config.num_hidden_layers
    shipped = BUILTIN_PACKS.get(args.model)
    if args.pack:
        pack = args.pack
    elif shipped is not None and (shipped / "pack.yaml").is_file():
        pack = str(shipped)
    else:
        # Same cost as a real pack of this width: an 8x SAE, a probe and a direction at the middle layer.
        pack = str(random_pack(workdir / "pack", d_model=width, layer=n_layers // 2, d_sae=8 * width))
    return loaded.model, loaded.tokenizer, pack, loaded.model_id


def monitor_config(config: str, pack: str, args: argparse.Namespace, workdir: Path) -> dict:
    base = {"run": f"bench-{config}", "pack": pack, "prometheus": {"enabled": True, "port": 0}, "event_log": str(workdir / f"events-{config}.jsonl")}
    if config == "default":
        return {**base, "every_n_steps": args.every_n_steps}
    return {**base, "sources": ["train_batch"], "every_n_steps": 1}


class LoopTimer(pl.Callback):
    """Wall time of the training loop alone (first batch to the end), without set-up and teardown.

    Set-up (pack load, endpoint start) and teardown (endpoint shutdown, which waits for the HTTP
    server's 0.5 s poll) are paid once per run; on a short run they would dominate the ratio, so
    the loop time is reported next to the whole-fit time.
    """

    def __init__(self) -> None:
        self.started = self.seconds = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            self.started = time.perf_counter()

    def on_train_end(self, trainer, pl_module) -> None:
        self.seconds = time.perf_counter() - self.started


class StepTimer(pl.Callback):
    """Wall time of every training step, from one batch start to the next, all callbacks included.

    It goes first in the callback list, so a step's interval holds the monitor's work at that
    step (its prompt pass runs in ``on_train_batch_start``, the scoring in ``on_train_batch_end``).
    Comparing the steps where the monitor sampled with the steps where it did not, *within one
    fit*, measures its cost free of the fit-to-fit swings of a shared machine.
    """

    def __init__(self) -> None:
        self.starts: list[float] = []
        self.end = 0.0

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        self.starts.append(time.perf_counter())

    def on_train_end(self, trainer, pl_module) -> None:
        self.end = time.perf_counter()

    def intervals(self) -> list[float]:
        return [after - before for before, after in zip(self.starts, [*self.starts[1:], self.end])]


def within_run_ratio(intervals: list[float], sampled: set[int], every_n_steps: int) -> float | None:
    """Steady-state cost at the default cadence from one fit's step times: one sampled step per
    ``every_n_steps``, the extra time of a sampled step (median) over the plain step (median).

    Step 0 is left out of both groups: it also pays the optimizer's and allocator's first-step costs.
    """
    plain = [seconds for step, seconds in enumerate(intervals) if step and step not in sampled]
    busy = [seconds for step, seconds in enumerate(intervals) if step and step in sampled]
    if not plain or not busy:
        return None
    plain_step = statistics.median(plain)
    return 1 + (statistics.median(busy) - plain_step) / every_n_steps / plain_step


def one_fit(config: str, initial_state: dict, model, tokenizer, pack: str, args: argparse.Namespace, workdir: Path) -> dict:
    from em_monitor.callbacks import PersonaMonitor
    from torch.utils.data import DataLoader

    from em_monitor.chat import ChatCollator
    from em_monitor.config import parse_config
    from em_monitor.finetune.lightning import CausalLMModule

    model.load_state_dict(initial_state)
    torch.manual_seed(0)
    callbacks = []
    monitor = None
    if config != "none":
        monitor = PersonaMonitor(parse_config(monitor_config(config, pack, args, workdir), base_dir=workdir), tokenizer=tokenizer)
        callbacks.append(monitor)
    loader = DataLoader(synthetic_chats(args.steps * args.batch_size), batch_size=args.batch_size, collate_fn=ChatCollator(tokenizer, max_length=args.max_length))
    loop_timer, step_timer = LoopTimer(), StepTimer()
    callbacks = [step_timer, *callbacks, loop_timer]
    trainer = pl.Trainer(
        max_steps=args.steps, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, default_root_dir=workdir, callbacks=callbacks,
    )
    module = CausalLMModule(model, tokenizer, lr=1e-5)
    started = time.perf_counter()
    trainer.fit(module, loader)
    seconds = time.perf_counter() - started
    intervals = step_timer.intervals()
    result = {"seconds": seconds, "loop_seconds": loop_timer.seconds, "median_step_seconds": statistics.median(intervals[1:] or intervals)}
    if monitor is not None:
        sampled = {step for step in range(args.steps) if monitor.monitor.is_sampling_step(step)}
        result["within_run_ratio"] = within_run_ratio(intervals, sampled, args.every_n_steps) if config == "default" else None
        metrics = monitor.monitor.metrics
        for source, (passes, seconds) in metrics.pass_summary().items():
            result[f"{source}_passes"], result[f"{source}_pass_seconds"] = passes, seconds
        result["errors"] = sum(metrics.counts()["errors"].values())
    return result


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    if args.quick:
        args.model, args.steps, args.repeats = "tiny", args.steps or 30, args.repeats or 3
    tiny = args.model == "tiny"
    args.steps = args.steps or (60 if tiny else 30)
    args.repeats = args.repeats or (5 if tiny else 2)
    threads = args.threads or (1 if tiny else None)
    if threads:
        torch.set_num_threads(threads)
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    configs = tuple(args.configs)
    runs: dict[str, list[dict]] = {config: [] for config in configs}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        model, tokenizer, pack, model_id = build(args, workdir)
        initial_state = copy.deepcopy(model.state_dict())
        # Warm-up (allocator, lazy imports): a few steps are enough and keep a big model's run short.
        one_fit("none", initial_state, model, tokenizer, pack, argparse.Namespace(**{**vars(args), "steps": min(args.steps, 3)}), workdir)
        for repeat in range(args.repeats):
            order = configs[repeat % len(configs):] + configs[: repeat % len(configs)]
            for config in order:
                runs[config].append(one_fit(config, initial_state, model, tokenizer, pack, args, workdir))
                print(f"repeat {repeat} {config}: {runs[config][-1]['seconds']:.2f}s", file=sys.stderr, flush=True)
    median = {config: statistics.median(run["seconds"] for run in runs[config]) for config in configs}
    loop_median = {config: statistics.median(run["loop_seconds"] for run in runs[config]) for config in configs}
    step_seconds = loop_median["none"] / args.steps if "none" in configs else None
    prompts_pass = _median_of(runs.get("default", []), "prompts_pass_seconds")
    train_batch_pass = _median_of(runs.get("train_batch", []), "train_batch_pass_seconds")
    report = {
        "benchmark": "overhead",
        "model": model_id,
        "pack": pack if not pack.startswith(tempfile.gettempdir()) else "random (same shapes as a real pack)",
        "steps": args.steps,
        "batch_size": args.batch_size,
        "max_length": args.max_length,
        "every_n_steps": args.every_n_steps,
        "repeats": args.repeats,
        "threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {torch.get_num_threads()} threads",
        "fit_seconds_median": {config: round(value, 3) for config, value in median.items()},
        "fit_seconds_all": {config: [round(run["seconds"], 3) for run in runs[config]] for config in configs},
        "overhead_ratio": _ratio(median, "default"),
        "overhead_ratio_train_batch_every_step": _ratio(median, "train_batch"),
        "loop_seconds_median": {config: round(value, 3) for config, value in loop_median.items()},
        "loop_overhead_ratio": _ratio(loop_median, "default"),
        "loop_overhead_ratio_train_batch_every_step": _ratio(loop_median, "train_batch"),
        "step_seconds": round(step_seconds, 4) if step_seconds else None,
        "prompts_pass_seconds": prompts_pass,
        "train_batch_pass_seconds": train_batch_pass,
        # Long-run cost at the default cadence, from the parts measured above: one prompt pass per
        # `every_n_steps` steps plus one training-batch scoring, over the plain step time.
        # Measured inside each fit (sampled vs plain steps; see StepTimer), median over repeats.
        "within_run_overhead_ratio": _median_of(runs.get("default", []), "within_run_ratio"),
        # Median step time per configuration: with train-batch scoring every step, its cost shows here.
        "median_step_seconds": {config: _median_of(runs[config], "median_step_seconds") for config in configs},
        "steady_state_overhead_ratio": round(1 + ((prompts_pass or 0) + (train_batch_pass or 0)) / args.every_n_steps / step_seconds, 4) if step_seconds else None,
        "monitor_errors": sum(run.get("errors", 0) for config in MONITORED for run in runs.get(config, [])),
    }
    print(json.dumps(report))
    return report


def _ratio(medians: dict[str, float], config: str) -> float | None:
    """``config``'s median over the unmonitored one; None when either was not run."""
    if config not in medians or "none" not in medians:
        return None
    return round(medians[config] / medians["none"], 4)


def _median_of(runs: list[dict], key: str) -> float | None:
    values = [run[key] for run in runs if run.get(key) is not None]
    return round(statistics.median(values), 4) if values else None


if __name__ == "__main__":
    main()
