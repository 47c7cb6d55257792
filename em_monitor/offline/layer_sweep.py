"""Which layer should a pack read? Held-out AUROC of the pack's probe and direction, layer by layer.

A pack reads one decoder block. Too shallow and the residual stream still encodes the words, not
the persona; too deep and it encodes the next token. The sweep trains the two signals a pack
ships (the mean-pooled logistic probe and the difference-of-means direction) at each candidate
layer on the same split of the labelled answers, with one forward pass for all layers, and
scores the held-out part.

The best layer is the one with the highest mean of the two held-out AUROCs; a tie goes to the
shallower layer, because the monitor cuts its forward pass after the layer it reads, so a
shallower layer is a cheaper pass.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from em_monitor.errors import InputError
from em_monitor.offline.probe_training import LabelledChats, layer_features, train_probes
from em_monitor.runtime.capture import check_layer
from em_monitor.runtime.pooling import POOLING_METHODS

__all__ = ["AUTO_DEPTHS", "LayerScore", "LayerSweep", "parse_layers", "sweep_layers"]

#: Where ``--layers auto`` looks, as fractions of the model's depth: a spread from the lower third
#: to the upper fifth (on SmolLM2's 30 blocks: 6, 10, 15, 20, 24).
AUTO_DEPTHS = (0.2, 0.35, 0.5, 0.65, 0.8)


def parse_layers(text: str, n_layers: int) -> list[int]:
    """``"auto"`` or a comma list such as ``"6,10,15,20"``, checked against the model's ``n_layers`` blocks."""
    if text.strip() == "auto":
        return sorted({min(n_layers - 1, round(n_layers * depth)) for depth in AUTO_DEPTHS})
    try:
        layers = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise InputError(f"--layers {text!r}: expected 'auto' or decoder block numbers separated by commas, e.g. 6,10,15,20") from None
    if not layers:
        raise InputError("--layers: name at least one decoder block, or 'auto'")
    return [check_layer(layer, n_layers, field="--layers") for layer in layers]


@dataclass(frozen=True)
class LayerScore:
    """Held-out figures of one layer."""

    layer: int
    probe_auroc: float
    probe_recall_at_1pct_fpr: float
    direction_auroc: float
    #: The logistic probe's held-out AUROC on each pooling of the answer tokens (the pack ships ``mean``).
    probe_auroc_by_pooling: dict[str, float]

    @property
    def score(self) -> float:
        return (self.probe_auroc + self.direction_auroc) / 2


@dataclass(frozen=True)
class LayerSweep:
    """Every swept layer's figures and the best one."""

    scores: list[LayerScore]
    data: str
    n_train: int
    n_test: int

    @property
    def best(self) -> int:
        # max() keeps the first of equal scores; the scores are in layer order, so that is the shallower.
        return max(self.scores, key=lambda score: score.score).layer

    def report(self) -> dict[str, object]:
        return {
            "criterion": "mean of the held-out AUROCs of persona_probe (logistic, mean pooling) and persona_direction "
                         "(difference of means); ties go to the shallower layer",
            "best_layer": self.best,
            "data": self.data,
            "n_train": self.n_train,
            "n_test": self.n_test,
            "layers": [{**asdict(score), "score": score.score} for score in self.scores],
        }

    def save(self, out: str | Path, *, title: str) -> tuple[Path, Path]:
        """``layers.json`` and ``layers.png`` in ``out``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        report = out / "layers.json"
        report.write_text(json.dumps(self.report(), indent=2) + "\n")
        return report, self.plot(out / "layers.png", title=title)

    def plot(self, path: Path, *, title: str) -> Path:
        from em_monitor.plotting import new_figure, save_figure

        figure, (axes,) = new_figure(6.4, 3.6)
        layers = [score.layer for score in self.scores]
        axes.plot(layers, [score.probe_auroc for score in self.scores], marker="o", label="persona_probe (logistic, mean)")
        axes.plot(layers, [score.direction_auroc for score in self.scores], marker="s", label="persona_direction (difference of means)")
        axes.plot(layers, [score.probe_recall_at_1pct_fpr for score in self.scores], marker="^", linestyle=":", label="probe recall at 1% FPR")
        axes.axvline(self.best, color="grey", linestyle="--", linewidth=1, label=f"best: layer {self.best}")
        axes.set_xlabel("decoder block")
        axes.set_ylabel(f"held-out ({self.n_test} answers)")
        axes.set_xticks(layers)
        axes.set_title(title)
        axes.legend(fontsize=8, loc="lower right")
        return save_figure(figure, path)


def sweep_layers(
    model: torch.nn.Module,
    tokenizer,
    labelled: LabelledChats,
    layers: Sequence[int],
    *,
    seed: int = 0,
    batch_size: int = 8,
    max_length: int = 256,
) -> LayerSweep:
    """Train and score the pack's probe and direction at each of ``layers`` (one forward pass per batch for all)."""
    features = layer_features(model, tokenizer, layers, labelled.conversations, POOLING_METHODS, batch_size=batch_size, max_length=max_length)
    scores, n_train, n_test = [], 0, 0
    for layer in sorted(layers):
        result = train_probes(model, tokenizer, labelled, layer=layer, variants=("residual", "direction"), poolings=POOLING_METHODS,
                              seed=seed, curve_seeds=1, curve_sizes=(), features=features[layer])
        probe, direction = result.variants["residual_mean"], result.variants["direction_mean"]
        scores.append(LayerScore(
            layer=layer, probe_auroc=probe.auroc, probe_recall_at_1pct_fpr=probe.recall_at_1pct_fpr, direction_auroc=direction.auroc,
            probe_auroc_by_pooling={name.removeprefix("residual_"): variant.auroc for name, variant in result.variants.items() if variant.kind == "probe"},
        ))
        n_train, n_test = result.n_train, result.n_test
    return LayerSweep(scores=scores, data=labelled.source, n_train=n_train, n_test=n_test)
