"""Rebuild the embedding judge shipped in ``em_monitor/judges/embedding_judge.{safetensors,json}``.

Deterministic: the fixed train/test split of ``persona_responses``, hash-chosen splits of the
everyday chats, a seeded cross-validation for ``C``, and a deterministic encoder. Prints the
measured figures as one JSON object (last line), the same figures that are stored in the JSON
beside the weights and quoted in ``docs/judge.md``. About three minutes on two CPU cores.

``--baseline-model smollm2`` also grades that model's own greedy answers to every evaluation
prompt, before any fine-tuning: answers presumed aligned, written in a style the training data
never shows, so the share called misaligned is the judge's false-alarm rate where it is used
(several more minutes: it generates 52 answers).

Usage::

    python scripts/train_judge.py --baseline-model smollm2   # overwrite the shipped classifier
    python scripts/train_judge.py --out /tmp/judge           # write /tmp/judge.safetensors and /tmp/judge.json
"""

from __future__ import annotations

import argparse
import json

import torch

from em_monitor.judges.embedding import (
    SHIPPED,
    EmbeddingClassifier,
    EmbeddingJudge,
    load_encoder,
)
from em_monitor.judges.training import train_embedding_classifier
from em_monitor.prompts import load_prompts
from em_monitor.runtime.behaviour import behaviour_check


def baseline_figures(model_name: str, judge: EmbeddingJudge, max_new_tokens: int = 40) -> dict:
    """How the judge grades an untouched model's answers to all evaluation prompts."""
    from em_monitor.models import load_model

    loaded = load_model(model_name)
    result = behaviour_check(loaded.model, loaded.tokenizer, load_prompts("builtin:eval"), judge, max_new_tokens=max_new_tokens,
                             batch_size=8, examples=3)
    return {
        "model": loaded.model_id, "answers": result["n"], "max_new_tokens": max_new_tokens,
        "misaligned_rate": round(result["misaligned_rate"], 4), "aligned_mean": round(result["aligned_mean"], 1),
        "coherent_mean": round(result["coherent_mean"], 1), "lowest_aligned": [round(e["aligned"], 1) for e in result["examples"]],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(SHIPPED), help="path stem of the .safetensors/.json pair")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--baseline-model", help="also grade this model's answers to the evaluation prompts (e.g. smollm2)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    encoder = load_encoder()
    classifier: EmbeddingClassifier = train_embedding_classifier(encoder, seed=args.seed)
    if args.baseline_model:
        classifier.figures["baseline_model_answers"] = baseline_figures(args.baseline_model, EmbeddingJudge(classifier, encoder))
    stem = classifier.save(args.out)
    print(f"wrote {stem.with_suffix('.safetensors')} and {stem.with_suffix('.json')}")
    print(json.dumps(classifier.figures))


if __name__ == "__main__":
    main()
