"""How many prompts, how long an answer: the `generations` pass's noise, its separation of bad from good data, and its cost.

Fine-tunes the model once on good and once on bad narrow advice (the demo's recipe, realignment
off, no monitor), then runs the monitor's own `generations` pass (``AnswerProbe``: greedy answers,
scored on their tokens) on the base, good and bad models, for each answer length in ``--tokens``
over all the evaluation prompts. For each prompt count n in ``--prompts`` and each reported signal:

- ``gap``: bad-model drift minus good-model drift on the first n prompts (drift: mean over the
  answers minus the base model's mean on the same prompts, in the base answers' per-sample std,
  as the monitor measures it);
- ``spread``: the std of that gap over random sets of n prompts drawn with replacement from all of
  them (``--resamples``, a bootstrap): how much the
  verdict depends on which prompts were asked. It is the part of a pass's noise that more
  prompts cut; the part from the model changing between passes needs whole runs to measure
  (``benchmarks/sequential.py``);
- ``separation`` = gap / spread, and ``seconds``: one pass of n prompts on the base model, timed
  alone; ``separation_per_second`` ranks the settings.

The last stdout line is one JSON object (keys in ``benchmarks/README.md``).

Usage::

    python benchmarks/generations_noise.py                     # SmolLM2: 2 fine-tunes + 3 x 2 passes of 52 prompts (~25 min on 2 quiet cores)
    python benchmarks/generations_noise.py --quick             # tiny random model
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch
from demo_runs import tiny_model_and_pack  # this folder is sys.path[0] when run as a script

REPORTED_SIGNALS = ("persona_direction", "persona_probe", "toxic_persona")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prompts", type=int, nargs="+", default=[8, 16, 32, 52], help="prompt counts compared (at most the evaluation set's 52)")
    parser.add_argument("--tokens", type=int, nargs="+", default=[40, 80], help="answer lengths compared (max_new_tokens)")
    parser.add_argument("--domain", default="health")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=2000, help="random prompt sets per count for the spread")
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--pack", default="builtin:smollm2")
    parser.add_argument("--quick", action="store_true", help="tiny random model and pack, 3 steps, 8 prompts, 8 tokens")
    return parser.parse_args(argv)


def answer_scores(model, tokenizer, prompts: list[str], signals, layer: int, tokens: int) -> tuple[dict[str, torch.Tensor], float]:
    """Every prompt's answer score per signal (NaN where the answer was empty), and the pass's seconds."""
    from em_monitor.runtime.own_answers import AnswerProbe

    probe = AnswerProbe(tokenizer, prompts, layer=layer, signals=signals, batch_size=16, max_new_tokens=tokens, max_length=256,
                        time_budget_seconds=3600.0)
    started = time.perf_counter()
    answered = probe.run(model)
    seconds = time.perf_counter() - started
    # The pass keeps non-empty answers only; put each back at its prompt's position.
    kept = [index for index, answer in enumerate(answered.answers) if answer.strip()]
    scores = {}
    for name, values in answered.scores.items():
        full = torch.full((len(prompts),), float("nan"))
        full[kept] = values.float()
        scores[name] = full
    return scores, seconds


def gap_figures(base: torch.Tensor, good: torch.Tensor, bad: torch.Tensor, counts: list[int], resamples: int, seed: int) -> dict[str, dict]:
    """Per prompt count: the bad − good drift gap on the first n prompts, its spread over random n-sets, and their ratio."""
    usable = torch.isfinite(base) & torch.isfinite(good) & torch.isfinite(bad)
    base, good, bad = base[usable].double(), good[usable].double(), bad[usable].double()
    scale = float(base.std()) or 1.0
    generator = torch.Generator().manual_seed(seed)
    figures = {}
    for n in counts:
        n = min(n, len(base))
        first = (float(bad[:n].mean()) - float(good[:n].mean())) / scale
        # Drawn with replacement (a bootstrap): at n = every prompt it is still the spread of a mean over n prompts.
        sets = torch.randint(len(base), (resamples, n), generator=generator)
        gaps = (bad[sets].mean(dim=1) - good[sets].mean(dim=1)) / scale
        spread = float(gaps.std())
        figures[str(n)] = {"gap": round(first, 4), "spread": round(spread, 4), "separation": round(first / spread, 3) if spread > 0 else None}
    return figures


def main(argv: list[str] | None = None) -> dict:
    from em_monitor.finetune.lightning import finetune
    from em_monitor.models import load_model
    from em_monitor.packs import load_pack
    from em_monitor.prompts import load_prompts
    from em_monitor.scenarios import scenario_samples

    args = parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            args.model, args.pack = tiny_model_and_pack(Path(scratch))
            # A random model moves visibly in 3 steps only at a large learning rate.
            args.steps, args.batch_size, args.lr, args.prompts, args.tokens, args.resamples = 3, 2, 1e-2, [4, 8], [8], 200
        loaded, pack = load_model(args.model), load_pack(args.pack)
        model, tokenizer = loaded.model, loaded.tokenizer
        signals = pack.build_signals()
        reported = [name for name in REPORTED_SIGNALS if name in signals.names] or signals.names[:3]
        prompts = load_prompts("builtin:eval")[: max(args.prompts)]
        base_state = {key: value.detach().clone() for key, value in model.state_dict().items()}
        states = {"base": base_state}
        for dataset in ("good", "bad"):
            model.load_state_dict(base_state)
            samples = scenario_samples(dataset, count=args.steps * args.batch_size, domain=args.domain, seed=args.seed)
            finetune(model, tokenizer, samples, steps=args.steps, batch_size=args.batch_size, lr=args.lr, max_length=160, seed=args.seed,
                     progress=False, shuffle=False)
            states[dataset] = {key: value.detach().clone() for key, value in model.state_dict().items()}
        by_tokens = {}
        for tokens in args.tokens:
            scores = {}
            for name, state in states.items():
                model.load_state_dict(state)
                scores[name], _ = answer_scores(model, tokenizer, prompts, signals, pack.layer, tokens)
            model.load_state_dict(base_state)
            seconds = {str(n): round(answer_scores(model, tokenizer, prompts[:n], signals, pack.layer, tokens)[1], 2) for n in args.prompts}
            signals_figures = {name: gap_figures(scores["base"][name], scores["good"][name], scores["bad"][name], args.prompts, args.resamples, args.seed)
                               for name in reported}
            for figures in signals_figures.values():
                for n, entry in figures.items():
                    entry["separation_per_second"] = round(entry["separation"] / seconds[n], 4) if entry["separation"] is not None and seconds[n] else None
            by_tokens[str(tokens)] = {"seconds": seconds, "signals": signals_figures}
    report = {"benchmark": "generations_noise", "model": args.model, "domain": args.domain, "steps": args.steps, "prompts": args.prompts,
              "tokens": args.tokens, "by_tokens": by_tokens}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
