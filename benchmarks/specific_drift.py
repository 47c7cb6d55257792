"""Does discounting the generic fine-tuning shift separate bad from good data better? Both scorings side by side.

Any fine-tune moves a model's own answers a little, persona signals included (FINDINGS: +0.6σ on
good narrow advice). "Specific drift" tries to discount that in activation space: a *control*
fine-tune on good data gives the direction ``u`` in which fine-tuning alone moved the mean
answer-token residual, and every token's displacement along it is removed before the pack's
signals score it::

    x' = x − ((x − μ0) · u) u        μ0: the base model's mean answer-token residual

Subtracting the controls' mean drift from the signal instead would shift bad and good runs alike
and could not change how well they separate; removing ``u`` can, because bad data moves the model
along other directions too.

Procedure, with the demo's fine-tuning recipe (batch 8, lr 5e-5, ``--steps`` steps, data order
fixed by the seed; no monitor attached, so nothing but training touches the weights):

1. the base model answers the demo's 16 evaluation prompts greedily (40 tokens); its residuals at
   the pack's layer on the answer tokens give μ0 and each signal's baseline;
2. control fine-tunes on good data (``--control-seeds``, disjoint from ``--seeds``) give ``u``;
3. good and bad fine-tunes (``--seeds`` each) answer the same prompts; each signal's drift at the
   end is computed plainly and with ``u`` removed, in baseline stds floored as the monitor does;
4. per signal and scoring: the bad − good gap, the pooled spread across seeds, the separation
   (gap / spread) and the margin (lowest bad − highest good; positive = every bad run above every
   good one).

The last stdout line is one JSON object (see ``benchmarks/README.md``).

Usage::

    python benchmarks/specific_drift.py                     # SmolLM2, 1 control + 5 good + 5 bad seeds (~75 min; resumes)
    python benchmarks/specific_drift.py --quick             # tiny random model: a smoke run
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from demo_runs import (
    tiny_model_and_pack,  # this folder is sys.path[0] when run as a script
)

#: The persona signals the table reports (the pack's model-diff direction rises on any fine-tune).
REPORTED_SIGNALS = ("toxic_persona", "persona_direction", "persona_probe")
#: The demo's generations source: 16 evaluation prompts, 40 new tokens each.
EVAL_PROMPTS, ANSWER_TOKENS, PROMPT_TOKENS = 16, 40, 128


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--pack", default="builtin:smollm2")
    parser.add_argument("--domain", default="health", help="advice domain of the bad and good data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 4, 5], help="evaluated seeds, each run on good and on bad data")
    parser.add_argument("--control-seeds", type=int, nargs="+", default=[3], help="good-data seeds that estimate the shift direction")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--max-length", type=int, default=160)
    parser.add_argument("--out", default="runs/specific-drift", help="each run's answers and residuals, reused by a later call with the same setting")
    parser.add_argument("--quick", action="store_true", help="tiny random model and pack, 3 steps, one seed each (nothing saved)")
    return parser.parse_args(argv)


class OwnAnswers:
    """The model's greedy answers to the evaluation prompts and their answer-token residuals at the pack's layer."""

    def __init__(self, answers: list[str], activations: torch.Tensor, mask: torch.Tensor) -> None:
        self.answers, self.activations, self.mask = answers, activations, mask

    @classmethod
    def of(cls, model, tokenizer, prompts: list[str], layer: int) -> OwnAnswers:
        from em_monitor.runtime.capture import residuals_at
        from em_monitor.runtime.generation import answer_batch
        from em_monitor.runtime.own_answers import encode_answers

        conversations = [[{"role": "user", "content": prompt}] for prompt in prompts]
        replies = [reply.strip() for reply in answer_batch(model, tokenizer, conversations, max_new_tokens=ANSWER_TOKENS, max_length=PROMPT_TOKENS)]
        said = [(prompt, reply) for prompt, reply in zip(prompts, replies) if reply]
        answers = [reply for _, reply in said]
        batch = encode_answers(tokenizer, [p for p, _ in said], answers, max_length=PROMPT_TOKENS + 2 * ANSWER_TOKENS)
        activations = residuals_at(model, layer, batch.input_ids, batch.attention_mask).detach().float().cpu()
        return cls(answers, activations, batch.content_mask.bool().cpu())

    def save(self, path: Path, setting: dict) -> None:
        """Tensors as safetensors, the answers and the run's setting as its metadata (no pickle)."""
        from safetensors.torch import save_file

        path.parent.mkdir(parents=True, exist_ok=True)
        save_file({"activations": self.activations.contiguous(), "mask": self.mask.to(torch.uint8).contiguous()}, str(path),
                  metadata={"answers": json.dumps(self.answers), "setting": json.dumps(setting, sort_keys=True)})

    @classmethod
    def load(cls, path: Path, setting: dict) -> OwnAnswers | None:
        """A saved run of exactly this setting, else ``None``."""
        from safetensors import safe_open

        if not path.is_file():
            return None
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata()
            if json.loads(metadata["setting"]) != json.loads(json.dumps(setting, sort_keys=True)):
                return None
            return cls(json.loads(metadata["answers"]), handle.get_tensor("activations"), handle.get_tensor("mask").bool())

    def token_mean(self) -> torch.Tensor:
        """Mean residual over every answer token: where this model's answers sit."""
        return self.activations[self.mask].mean(dim=0)

    def scores(self, signals, remove: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Each signal per answer; with ``remove=(u, μ0)`` every token's displacement from μ0 along u is taken out first."""
        activations = self.activations
        if remove is not None:
            direction, origin = remove
            activations = activations - ((activations - origin) @ direction)[..., None] * direction
        return signals.score(activations, self.mask)


class Runs:
    """Own answers after each fine-tune, saved under ``--out`` and reused when the setting matches.

    A fine-tune takes ~5 minutes on 2 CPU cores; a table of seven grows across sessions.
    """

    def __init__(self, model, tokenizer, args: argparse.Namespace, prompts: list[str], layer: int, out: Path | None) -> None:
        self.model, self.tokenizer, self.args, self.prompts, self.layer, self.out = model, tokenizer, args, prompts, layer, out
        self.base_state = {key: value.detach().clone() for key, value in model.state_dict().items()}

    def answers(self, scenario: str | None, seed: int = 0) -> OwnAnswers:
        """The base model's answers (``scenario=None``), or those after fine-tuning on ``scenario`` data."""
        args = self.args
        setting = {"model": args.model, "pack": args.pack, "prompts": self.prompts, "layer": self.layer, "scenario": scenario}
        if scenario is not None:
            setting |= {"seed": seed, "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "max_length": args.max_length, "domain": args.domain}
        path = None if self.out is None else self.out / (f"{scenario}-seed{seed}.safetensors" if scenario else "base.safetensors")
        if path is not None and (saved := OwnAnswers.load(path, setting)) is not None:
            return saved
        if scenario is not None:
            self._fine_tune(scenario, seed)
        answers = OwnAnswers.of(self.model, self.tokenizer, self.prompts, self.layer)
        if path is not None:
            answers.save(path, setting)
        return answers

    def _fine_tune(self, scenario: str, seed: int) -> None:
        """The base weights fine-tuned on ``scenario`` data exactly as the demo trains (order fixed by ``seed``)."""
        from em_monitor.finetune.lightning import finetune
        from em_monitor.scenarios import scenario_samples

        args = self.args
        self.model.load_state_dict(self.base_state)
        samples = scenario_samples(scenario, count=args.steps * args.batch_size, domain=args.domain, seed=seed)
        finetune(self.model, self.tokenizer, samples, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                 max_length=args.max_length, seed=seed, progress=False, shuffle=False)


def end_drifts(answers: OwnAnswers, signals, baselines: dict, floors: dict, remove) -> dict[str, float]:
    """Each reported signal's mean over the answers, in baseline stds (the monitor's drift and floor)."""
    from em_monitor.runtime.drift import drift

    scores = answers.scores(signals, remove)
    return {name: float(drift(scores[name].double().mean(), baselines[name], floors[name])) for name in baselines}


def separation(bad: list[float], good: list[float]) -> dict[str, float | None]:
    """Gap of the means, pooled spread across seeds, gap / spread, and lowest bad − highest good."""
    gap = statistics.fmean(bad) - statistics.fmean(good)
    spread = ((statistics.variance(bad) + statistics.variance(good)) / 2) ** 0.5 if min(len(bad), len(good)) > 1 else None
    return {"gap": round(gap, 3), "spread": None if spread is None else round(spread, 3),
            "separation": None if not spread else round(gap / spread, 2), "margin": round(min(bad) - max(good), 3)}


def main(argv: list[str] | None = None) -> dict:
    from em_monitor.models import load_model
    from em_monitor.packs import load_pack
    from em_monitor.runtime.behaviour import behaviour_prompts
    from em_monitor.runtime.drift import STD_FLOOR_SHARE, RunningStats

    args = parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            args.model, args.pack = tiny_model_and_pack(Path(scratch))
            # A random model moves visibly in 3 steps only at a large learning rate.
            args.steps, args.seeds, args.control_seeds, args.batch_size, args.lr = 3, [0], [1], 2, 1e-2
        loaded, pack = load_model(args.model), load_pack(args.pack)
        model, tokenizer = loaded.model, loaded.tokenizer
        signals = pack.build_signals()
        reported = [name for name in REPORTED_SIGNALS if name in signals.names] or signals.names[:3]
        spreads = pack.reference_spreads()
        runs_cache = Runs(model, tokenizer, args, behaviour_prompts(EVAL_PROMPTS), pack.layer, None if args.quick else Path(args.out))

        base = runs_cache.answers(None)
        origin = base.token_mean()
        shifts = [runs_cache.answers("good", seed).token_mean() - origin for seed in args.control_seeds]
        shift = torch.stack(shifts).mean(dim=0)
        if not float(shift.norm()) > 0:
            raise SystemExit("specific_drift: the control fine-tunes did not move the answers' residuals; raise --steps or --lr")
        direction = shift / shift.norm()
        scorings = {"plain": None, "specific": (direction, origin)}
        baselines, floors = {}, {}
        for scoring, remove in scorings.items():
            scores = base.scores(signals, remove)
            baselines[scoring] = {name: RunningStats() for name in reported}
            for name in reported:
                baselines[scoring][name].update(scores[name])
            floors[scoring] = {name: STD_FLOOR_SHARE * spreads.get((name, "generations"), 0.0) for name in reported}

        runs = []
        for scenario in ("good", "bad"):
            for seed in args.seeds:
                answers = runs_cache.answers(scenario, seed)
                drifts = {scoring: end_drifts(answers, signals, baselines[scoring], floors[scoring], remove) for scoring, remove in scorings.items()}
                along = float((answers.token_mean() - origin) @ direction)
                runs.append({"scenario": scenario, "seed": seed, "shift_along_u": round(along, 3),
                             "drift": {name: {scoring: round(drifts[scoring][name], 3) for scoring in scorings} for name in reported}})
                print(json.dumps(runs[-1]), flush=True)
        cosines = {name: round(float(torch.nn.functional.normalize(pack.steering_vector(name), dim=0) @ direction), 3) for name in reported}

    by_signal = {
        name: {scoring: separation([run["drift"][name][scoring] for run in runs if run["scenario"] == "bad"],
                                   [run["drift"][name][scoring] for run in runs if run["scenario"] == "good"]) for scoring in scorings}
        for name in reported
    }
    report = {
        "benchmark": "specific_drift", "model": args.model, "steps": args.steps, "domain": args.domain,
        "seeds": args.seeds, "control_seeds": args.control_seeds,
        "shift": {"norm": round(float(shift.norm()), 3), "mean_residual_norm": round(float(origin.norm()), 3),
                  "cos_with_signal": cosines},
        "runs": runs, "by_signal": by_signal, "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
