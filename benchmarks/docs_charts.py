"""Draw the guide's two charts from the figures recorded in docs/_data/.

    python benchmarks/docs_charts.py

- docs/_data/flaky-runs.json (`flaky_runs.py`) -> docs/assets/diagrams/keyed-vs-unkeyed.svg
- docs/_data/workers-wall-cpu.json (`workers_scaling.py`) -> docs/assets/diagrams/workers-wall-cpu.svg

The SVGs are committed; rerun the measuring script, then this one, to refresh them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("svg")
import matplotlib.pyplot as plt
from matplotlib.patches import Patch

_ROOT = Path(__file__).resolve().parent.parent
DATA = _ROOT / "docs" / "_data"
CHARTS = _ROOT / "docs" / "assets" / "diagrams"
# The colours and the SVG style (rcParams, set when plot.py is imported) of the performance charts.
from plot import FLOOR as PLAIN  # noqa: E402
from plot import OURS  # noqa: E402
from plot import PEER as KEYED  # noqa: E402


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return data


def _save(figure: Any, name: str) -> Path:
    path = CHARTS / f"{name}.svg"
    figure.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return path


def keyed_vs_unkeyed() -> Path:
    """Failing runs out of N for each cache, under `-n 4` and without xdist."""
    data = _load("flaky-runs.json")
    runs, failing = data["runs"], data["failing_runs"]
    variants = [
        ("plain", "plain dict", PLAIN),
        ("keyed", "dict keyed by\nPYTEST_XDIST_WORKER", KEYED),
        ("isolated", "get_locator(),\nisolated by the plugin", OURS),
    ]
    modes = list(next(iter(failing.values())))
    figure, axes = plt.subplots(figsize=(7, 3.2))
    width = 0.36
    for offset, (mode, hatch) in enumerate(zip(modes, ["", "//"], strict=True)):
        xs = [i + (offset - 0.5) * width for i in range(len(variants))]
        values = [failing[key][mode] for key, _, _ in variants]
        bars = axes.bar(
            xs,
            values,
            width,
            color=[colour for _, _, colour in variants],
            hatch=hatch,
            edgecolor="white",
        )
        for bar, value in zip(bars, values, strict=True):
            axes.text(bar.get_x() + bar.get_width() / 2, value + 0.3, str(value), ha="center", fontsize=9)
    axes.set_xticks(range(len(variants)), [label for _, label, _ in variants])
    axes.set_ylim(0, runs + 2)
    axes.set_ylabel(f"failing runs out of {runs}")
    axes.set_title(
        "The key changes nothing; the plugin's reset makes the hidden dependency fail every run",
        loc="left",
        fontsize=10,
    )
    axes.legend(
        handles=[
            Patch(
                facecolor="#616161",
                edgecolor="white",
                hatch=hatch,
                label=f"pytest {mode}" if mode.startswith("-") else mode,
            )
            for mode, hatch in zip(modes, ["", "//"], strict=True)
        ],
        frameon=False,
        loc="upper left",
    )
    figure.text(
        0,
        -0.04,
        f"{data['started']}, load {data['load_before'][0]} to {data['load_after'][0]}",
        fontsize=8,
        color="#616161",
    )
    return _save(figure, "keyed-vs-unkeyed")


def workers_wall_cpu() -> Path:
    """Wall and CPU seconds of one suite against the number of workers."""
    data = _load("workers-wall-cpu.json")
    rows = data["workers"]
    labels = [str(row["n"]) for row in rows]
    figure, axes = plt.subplots(figsize=(7, 3.2))
    wall = [row["wall_s"] for row in rows]
    cpu = [row["cpu_s"] for row in rows]
    axes.plot(labels, wall, marker="o", color=OURS, label="wall time")
    axes.plot(labels, cpu, marker="s", color=KEYED, label="CPU time (pytest and its workers)")
    for x, (w, c) in enumerate(zip(wall, cpu, strict=True)):
        for value, below in ((w, 7), (c, -13)):
            axes.annotate(
                f"{value:.1f}",
                (x, value),
                textcoords="offset points",
                xytext=(0, below),
                ha="center",
                fontsize=8,
            )
    axes.set_ylim(0, max(*wall, *cpu) * 1.2)
    axes.set_xlabel(f"pytest -n N (0: no workers); {data['machine']['cores']} cores")
    axes.set_ylabel("seconds")
    title = f"{data['suite']} ({data['tests']} tests), best of {data['rounds']}"
    axes.set_title(title, loc="left", fontsize=10)
    axes.legend(frameon=False, loc="upper left")
    figure.text(
        0,
        -0.04,
        f"{data['started']}, load {data['load_before'][0]} to {data['load_after'][0]}",
        fontsize=8,
        color="#616161",
    )
    return _save(figure, "workers-wall-cpu")


def main() -> None:
    """Draw both charts and say where they went."""
    for draw in (keyed_vs_unkeyed, workers_wall_cpu):
        print(f"wrote {draw().relative_to(_ROOT)}")


if __name__ == "__main__":
    main()
