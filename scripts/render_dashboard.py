"""Draw the Grafana dashboard's layout, filled with synthetic data, as a PNG for the docs.

Grafana cannot run here, and a screenshot goes stale the moment a panel moves. This reads the
dashboard JSON itself: every panel is drawn at its ``gridPos``, with its title, and a small plot of
one made-up run in which the toxic-persona drift climbs through warn and critical, a realignment
pulls it back, and flagged samples and one caught error show up where they would. Threshold lines,
value mappings and colours come from the JSON, so the picture shows what the dashboard draws.
The data are synthetic (fixed seed); the picture is about layout, not results.

Usage::

    .venv/bin/python scripts/render_dashboard.py [--dashboard grafana/dashboards/em-monitor.json] [--out docs/img/dashboard-layout.png]
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: no display here, and the output must not depend on one

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "grafana" / "dashboards" / "em-monitor.json"
OUT = ROOT / "docs" / "img" / "dashboard-layout.png"

COLUMNS = 24
CELL_W, CELL_H = 0.75, 0.36  # inches per grid column / grid row: Grafana's 30 px rows on a ~1400 px screen
HEADER_H = 0.55  # inches for the title and variable bar above the grid
BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
COLORS = {"green": "#73bf69", "yellow": "#fade2a", "orange": "#ff9830", "red": "#f2495c", "blue": "#5794f2"}
PALETTE = ("#73bf69", "#fade2a", "#5794f2", "#ff9830", "#f2495c", "#b877d9")
POINTS = 240  # samples along the time axis
SEED = 7
HYSTERESIS = {"drift": 0.5, "value": 0.05}  # as the default config's rules

Data = dict[str, Any]
Painter = Callable[[Axes, dict[str, Any], Data], None]


def synthetic_run(seed: int = SEED) -> Data:
    """One made-up run: drift rises from point 70, realignment (100 to 125) brings it back."""
    rng = np.random.default_rng(seed)
    t = np.arange(POINTS)
    rise = np.clip((t - 70) / 35, 0, 1) * 5.2
    recovery = np.clip((t - 100) / 25, 0, 1)
    shift = rise * (1 - recovery) + 0.6 * recovery
    drift = {
        "toxic_persona/prompts": shift + rng.normal(0, 0.35, POINTS),
        "toxic_persona/train_batch": 0.8 * shift + rng.normal(0, 0.6, POINTS),
        "persona_probe/prompts": 0.7 * shift + rng.normal(0, 0.3, POINTS),
    }
    value = {
        "toxic_persona/prompts": 1.1 + 0.35 * drift["toxic_persona/prompts"],
        "persona_probe/prompts": np.clip(0.22 + 0.11 * drift["persona_probe/prompts"], 0, 1),
    }
    active = ((t >= 100) & (t < 125)).astype(float)
    flagged = np.where((t > 75) & (t < 110), rng.poisson(1.5, POINTS), 0) / 60
    errors = np.zeros(POINTS)
    errors[40] = 1
    # warn at ~90 logs, critical at ~100 logs, checkpoints and starts the realignment
    actions = {name: np.zeros(POINTS) for name in ("log", "checkpoint", "realign")}
    for name, points in {"log": (90, 100), "checkpoint": (100,), "realign": (100,)}.items():
        actions[name][list(points)] = 1
    return {
        "t": t,
        "drift": drift,
        "value": value,
        "active": active,
        "step": 10 * POINTS,
        "passes": 2 * POINTS,  # two sources sampled at every point
        "recovered": (t >= 125).astype(float),
        "failed": np.zeros(POINTS),
        "flagged": {"toxic_persona": flagged},
        "errors": {"score": errors},
        "actions": actions,
        "duration": {
            "p50 prompts": 0.34 + rng.normal(0, 0.02, POINTS),
            "p95 prompts": 0.52 + rng.normal(0, 0.04, POINTS),
            "p50 train_batch": 0.021 + rng.normal(0, 0.002, POINTS),
            "p95 train_batch": 0.035 + rng.normal(0, 0.004, POINTS),
        },
        "overhead": {"prompts": 0.034 + rng.normal(0, 0.003, POINTS), "train_batch": 0.011 + rng.normal(0, 0.001, POINTS)},
        # a prompts pass every 5 points, a training-batch pass every 2: the saw-tooth a healthy run draws
        "since_last_pass": {"prompts": 60.0 * (t % 5), "train_batch": 60.0 * (t % 2)},
        # each point a pass: z at 0 until the shift, then a small persistent rise; the evidence climbs, is reset by the realignment
        "sequential": {"narrow_drift": _cusum(np.where((t > 60) & (t < 100), 1.3, 0.0) + rng.normal(0, 0.8, POINTS), reset=100)},
    }


def _cusum(z: np.ndarray, *, reset: int, reference: float = 0.5) -> np.ndarray:
    """A CUSUM over ``z`` (as the monitor's sequential rules sum it), restarted at index ``reset``."""
    from em_monitor.runtime.sequential import cusum_update

    evidence, total = np.zeros(len(z)), 0.0
    for index, value in enumerate(z):
        total = 0.0 if index == reset else cusum_update(total, float(value), reference)
        evidence[index] = total
    return evidence


def threshold_lines(thresholds: dict[str, Any]) -> list[tuple[float, str]]:
    """(value, colour) of each threshold step above the base step."""
    return [(step["value"], COLORS.get(step["color"], step["color"])) for step in thresholds["steps"] if step["value"] is not None]


def _mapping(panel: dict[str, Any]) -> dict[int, tuple[str, str]]:
    """Integer value → (text, colour) from the panel's value mappings."""
    options = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    return {int(key): (option["text"], COLORS.get(option["color"], option["color"])) for key, option in options.items()}


def _style(ax: Axes) -> None:
    ax.set_facecolor(PANEL)
    ax.tick_params(colors=TEXT, labelsize=6, length=2)
    ax.set_xticks([])
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.grid(color=GRID, linewidth=0.5)


def _lines(ax: Axes, series: dict[str, np.ndarray], t: np.ndarray, *, stairs: bool = False, first_color: int = 0, legend: str = "upper left") -> None:
    for color, (name, ys) in zip(PALETTE[first_color:], series.items(), strict=False):
        if stairs:
            ax.step(t, ys, where="post", color=color, linewidth=1.2, label=name)
        else:
            ax.plot(t, ys, color=color, linewidth=1.2, label=name)
    ax.legend(fontsize=5.5, loc=legend, frameon=False, labelcolor=TEXT, ncol=min(len(series), 2))


def _bars(ax: Axes, series: dict[str, np.ndarray], t: np.ndarray) -> None:
    for color, (name, ys) in zip(PALETTE, series.items(), strict=False):
        shown = ys > 0  # empty bars cost drawing time and show nothing
        ax.bar(t[shown], ys[shown], width=1.0, color=color, label=name)
    ax.legend(fontsize=5.5, loc="upper right", frameon=False, labelcolor=TEXT)


def drift_lines(panel: dict[str, Any]) -> list[tuple[float, str]]:
    return threshold_lines(panel["fieldConfig"]["defaults"]["thresholds"])


def value_axes(panel: dict[str, Any]) -> dict[str, list[tuple[float, str]]]:
    """Signal → threshold lines, for the signals the value panel gives an axis of their own."""
    axes = {}
    for override in panel["fieldConfig"]["overrides"]:
        properties = {prop["id"]: prop["value"] for prop in override["properties"]}
        if "thresholds" in properties:
            axes[override["matcher"]["options"].strip("^/")] = threshold_lines(properties["thresholds"])
    return axes


def paint_drift(ax: Axes, panel: dict[str, Any], data: Data) -> None:
    _lines(ax, data["drift"], data["t"])
    for value, color in drift_lines(panel):
        ax.axhline(value, color=color, linestyle="--", linewidth=1)


def paint_value(ax: Axes, panel: dict[str, Any], data: Data) -> None:
    """Shared left axis for most signals; a right axis with threshold lines per value-alerted signal."""
    own_axis = value_axes(panel)
    shared = {name: ys for name, ys in data["value"].items() if name.split("/")[0] not in own_axis}
    _lines(ax, shared, data["t"])
    for offset, (signal, lines) in enumerate(own_axis.items(), start=len(shared)):
        right = ax.twinx()
        _style(right)
        right.grid(False)
        right.set_ylabel(signal, color=TEXT, fontsize=6)
        _lines(right, {name: ys for name, ys in data["value"].items() if name.split("/")[0] == signal}, data["t"], first_color=offset, legend="upper right")
        for value, color in lines:
            right.axhline(value, color=color, linestyle="--", linewidth=1)
        right.set_ylim(0, max(value for value, _ in lines) * 1.25)


def levels(measure: np.ndarray, cuts: Sequence[float], hysteresis: float) -> np.ndarray:
    """The monitor's level rule in miniature: rise at a threshold, clear only below it minus hysteresis."""
    out = np.zeros(len(measure), dtype=int)
    level = 0
    for i, m in enumerate(measure):
        raised = sum(m >= cut for cut in cuts)
        level = raised if raised >= level else sum(m >= cut - hysteresis for cut in cuts[:level])
        out[i] = level
    return out


def paint_levels(ax: Axes, panel: dict[str, Any], data: Data, *, drift_panel: dict[str, Any], value_panel: dict[str, Any]) -> None:
    """One band per signal, coloured by the level its measure reaches under the thresholds drawn elsewhere.

    Signals with value thresholds (their own axis on the value panel) are judged on their value;
    the others on their drift, against the drift panel's lines.
    """
    mapping = _mapping(panel)
    by_value = value_axes(value_panel)
    signals = sorted({name.split("/")[0] for name in data["drift"]})
    for row, signal in enumerate(signals):
        measure, source = ("value", data["value"]) if signal in by_value else ("drift", data["drift"])
        lines = by_value.get(signal) or drift_lines(drift_panel)
        series = np.max([ys for name, ys in source.items() if name.startswith(signal + "/")], axis=0)
        states = levels(series, [value for value, _ in lines], HYSTERESIS[measure])
        starts = np.flatnonzero(np.diff(states, prepend=-1))
        for start, end in zip(starts, [*starts[1:], len(states)], strict=True):
            ax.broken_barh([(start, end - start)], (row - 0.4, 0.8), color=mapping[int(states[start])][1])
        ax.text(-2, row, signal, color=TEXT, fontsize=6, ha="right", va="center")
    ax.set_yticks([])
    ax.set_xlim(-POINTS * 0.28, POINTS)
    ax.set_ylim(-0.6, len(signals) - 0.4)
    ax.grid(False)


def paint_stat(ax: Axes, panel: dict[str, Any], data: Data) -> None:
    ax.set_axis_off()
    expr = panel["targets"][0]["expr"]
    if panel["fieldConfig"]["defaults"]["mappings"]:
        text, color = _mapping(panel)[int(data["active"][-1])]
        ax.add_patch(FancyBboxPatch((0.05, 0.1), 0.9, 0.8, boxstyle="round,pad=0.01", color=color, transform=ax.transAxes))
        ax.text(0.5, 0.5, text, color=BACKGROUND, fontsize=16, weight="bold", ha="center", va="center", transform=ax.transAxes)
    else:
        number = data["step"] if "training_step" in expr else data["passes"]
        ax.text(0.5, 0.5, f"{number}", color=COLORS["blue"], fontsize=22, weight="bold", ha="center", va="center", transform=ax.transAxes)


PAINTERS: dict[str, Painter] = {
    "em_monitor_signal_drift": paint_drift,
    "em_monitor_signal_value": paint_value,
    "em_monitor_training_step": paint_stat,
    "em_monitor_samples_total": paint_stat,
    "em_monitor_realignment_active": paint_stat,
    "em_monitor_realignments_total": lambda ax, _p, d: _lines(ax, {"recovered": d["recovered"], "failed": d["failed"]}, d["t"], stairs=True),
    "em_monitor_flagged_samples_total": lambda ax, _p, d: _bars(ax, d["flagged"], d["t"]),
    "em_monitor_errors_total": lambda ax, _p, d: _bars(ax, d["errors"], d["t"]),
    "em_monitor_actions_total": lambda ax, _p, d: _bars(ax, d["actions"], d["t"]),
    "em_monitor_sample_duration_seconds_bucket": lambda ax, _p, d: _lines(ax, d["duration"], d["t"]),
    "em_monitor_sample_duration_seconds_sum": lambda ax, _p, d: _lines(ax, d["overhead"], d["t"]),
    "em_monitor_last_pass_timestamp_seconds": lambda ax, _p, d: _lines(ax, d["since_last_pass"], d["t"]),
    "em_monitor_sequential_statistic": lambda ax, _p, d: _lines(ax, d["sequential"], d["t"]),
}


def panel_metric(panel: dict[str, Any]) -> str:
    """The first ``em_monitor_*`` metric the panel's first query reads: what its sample data shows."""
    match = re.search(r"em_monitor_\w+", panel["targets"][0]["expr"])
    if match is None:
        raise ValueError(f"panel {panel['title']!r} queries no em_monitor_ metric")
    return match.group(0)


def render(dashboard: dict[str, Any], data: Data) -> Figure:
    """The whole dashboard as one figure, panels at their grid positions."""
    panels = dashboard["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, height = COLUMNS * CELL_W, rows * CELL_H + HEADER_H
    fig = plt.figure(figsize=(width, height), facecolor=BACKGROUND)
    variables = "   ".join(f"{v['label']}: {'All' if v.get('includeAll') else 'smollm2-finetune'}" for v in dashboard["templating"]["list"])
    fig.text(0.01, 1 - 0.3 / height, f"{dashboard['title']}      {variables}", color=TEXT, fontsize=10, va="center")
    by_metric = {panel_metric(p): p for p in panels}
    for panel in panels:
        pos = panel["gridPos"]
        left, top = pos["x"] * CELL_W / width, 1 - (HEADER_H + pos["y"] * CELL_H) / height
        w, h = pos["w"] * CELL_W / width, pos["h"] * CELL_H / height
        pad_x, pad_y = 0.004, 0.004 * width / height
        fig.add_artist(FancyBboxPatch((left + pad_x, top - h + pad_y), w - 2 * pad_x, h - 2 * pad_y, boxstyle="round,pad=0,rounding_size=0.003", facecolor=PANEL, edgecolor=GRID, transform=fig.transFigure, zorder=-1))
        fig.text(left + 3 * pad_x, top - 0.22 / height, panel["title"], color=TEXT, fontsize=8, weight="bold", va="center")
        ax = fig.add_axes((left + 0.028, top - h + 2.5 * pad_y, w - 0.036, h - 0.5 / height - 2.5 * pad_y))
        _style(ax)
        metric = panel_metric(panel)
        if metric not in PAINTERS and panel["type"] != "state-timeline":
            raise KeyError(f"no sample data for panel {panel['title']!r} ({metric}); add a painter in scripts/render_dashboard.py")
        if panel["type"] == "state-timeline":
            paint_levels(ax, panel, data, drift_panel=by_metric["em_monitor_signal_drift"], value_panel=by_metric["em_monitor_signal_value"])
        else:
            PAINTERS[metric](ax, panel, data)
    return fig


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dashboard", type=Path, default=DASHBOARD)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    fig = render(json.loads(args.dashboard.read_text(encoding="utf-8")), synthetic_run())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # No timestamp or version metadata: the same JSON renders to the same bytes.
    fig.savefig(args.out, dpi=100, facecolor=BACKGROUND, metadata={"Software": None})
    plt.close(fig)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
