"""How well do per-sample flags tell persona samples from clean ones, and what does the margin cost?

The data-side detector (``em-monitor calibrate --flag-data``) flags a training sample whose own
score lies a margin above every clean sample. This scores the shipped benign chat (the clean part
of the demo's poisoned mix) and the misaligned-persona answers with the base model, pooled as the
monitor pools training answers, and reports per signal:

- the per-sample AUROC, persona against clean;
- for each margin (in clean stds): the flag calibrated on all clean samples and the share of
  persona samples at or above it (recall), and the held-out false-flag rate (threshold set on a
  random half of the clean samples, counted on the other half, 200 splits);
- the chance that a clean run flags two samples or more (the data alert), from that rate, for a
  60-step demo run at batch 8 that scores every training batch (480 samples).

The last stdout line is one JSON object (see ``benchmarks/README.md``).

Usage::

    python benchmarks/flag_separation.py            # SmolLM2 and its pack (~3 min)
    python benchmarks/flag_separation.py --quick    # tiny random model: a smoke run
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from demo_runs import (
    tiny_model_and_pack,  # this folder is sys.path[0] when run as a script
)
from sklearn.metrics import roc_auc_score

#: Training samples a 60-step demo run scores: every batch of 8 (`train_batch.every_n_steps: 1`).
SCORED_PER_RUN = 480
MARGINS = (0.0, 0.5, 1.0, 2.0, 3.0)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2")
    parser.add_argument("--pack", default="builtin:smollm2")
    parser.add_argument("--signals", nargs="+", default=["toxic_persona", "persona_latent_1250", "persona_probe", "persona_direction"])
    parser.add_argument("--max-length", type=int, default=160, help="tokens per sample (the demo's training --max-length)")
    parser.add_argument("--quick", action="store_true", help="tiny random model and pack, 24 samples of each kind")
    return parser.parse_args(argv)


def two_or_more(rate: float, trials: int) -> float:
    """P(at least 2 of ``trials`` independent samples cross) at per-sample ``rate``."""
    return 1.0 - (1.0 - rate) ** trials - trials * rate * (1.0 - rate) ** (trials - 1)


def main(argv: list[str] | None = None) -> dict:
    from em_monitor.chat import read_chat_jsonl
    from em_monitor.datasets import dataset_path
    from em_monitor.models import load_model
    from em_monitor.offline.audit import score_answers
    from em_monitor.offline.flag_calibration import (
        flag_threshold,
        flag_thresholds,
        held_out_false_flag_rate,
    )
    from em_monitor.packs import load_pack

    args = parse_args(argv)
    started = time.perf_counter()
    clean_chats, persona_chats = read_chat_jsonl(dataset_path("benign_chat")), read_chat_jsonl(dataset_path("persona_chat"))
    with tempfile.TemporaryDirectory() as scratch:
        if args.quick:
            args.model, args.pack = tiny_model_and_pack(Path(scratch))
            clean_chats, persona_chats = clean_chats[:24], persona_chats[:24]
        loaded, pack = load_model(args.model), load_pack(args.pack)
        kinds = {spec.name: spec.kind for spec in pack.spec.signals}
        ceilings = {spec.name: spec.ceiling for spec in pack.spec.signals if spec.ceiling is not None}
        names = [name for name in args.signals if name in kinds] or list(kinds)[:2]
        signals = pack.build_signals()
        clean = score_answers(loaded.model, loaded.tokenizer, signals, pack.layer, clean_chats, max_length=args.max_length)
        persona = score_answers(loaded.model, loaded.tokenizer, signals, pack.layer, persona_chats, max_length=args.max_length)

    rows = {}
    for name in names:
        good, bad = clean[name][np.isfinite(clean[name])], persona[name][np.isfinite(persona[name])]
        labels = np.r_[np.zeros(good.size), np.ones(bad.size)]
        by_margin = []
        for margin in MARGINS:
            calibrated = flag_thresholds({name: good}, ceilings, margin=margin)[0].get(name)
            # flag_thresholds leaves out a flag that cannot fire; it is still shown, with its recall (0).
            usable = calibrated is not None
            flag = calibrated.flag if usable else flag_threshold(good, margin)
            rate = calibrated.held_out_false_flag_rate if usable else held_out_false_flag_rate(good, margin)
            by_margin.append({"margin": margin, "flag": round(flag, 4), "usable": usable, "recall": round(float((bad >= flag).mean()), 4),
                              "held_out_false_flag_rate": round(rate, 5), "p_clean_run_alerts": round(two_or_more(rate, SCORED_PER_RUN), 4)})
        rows[name] = {"kind": kinds[name], "clean_samples": int(good.size), "persona_samples": int(bad.size),
                      "auroc": round(float(roc_auc_score(labels, np.r_[good, bad])), 4),
                      "clean_max": round(float(good.max()), 4), "persona_median": round(float(np.median(bad)), 4), "by_margin": by_margin}
    report = {"benchmark": "flag_separation", "model": args.model, "pack": args.pack, "max_length": args.max_length,
              "scored_per_run": SCORED_PER_RUN, "signals": rows, "seconds": round(time.perf_counter() - started, 1)}
    print(json.dumps(report))
    return report


if __name__ == "__main__":
    main()
