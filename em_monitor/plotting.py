"""Figures for the reports (demo signals, diffing, probe curves, steering sweeps), made without pyplot.

Without pyplot there is no global backend switch in the user's process (a training script may
have its own) and no figure left open between calls; ``Figure.savefig`` picks the Agg renderer
for PNG by itself. Import this module lazily: matplotlib takes a second to import.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure

__all__ = ["new_figure", "save_figure"]


def new_figure(width: float, height: float, *, rows: int = 1, sharex: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of ``rows`` stacked axes (constrained layout: labels never overlap)."""
    figure = Figure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(rows, 1, sharex=sharex, squeeze=False)[:, 0]
    return figure, list(axes)


def save_figure(figure: Figure, path: str | Path, *, dpi: int = 120) -> Path:
    path = Path(path)
    figure.savefig(path, dpi=dpi)
    return path
