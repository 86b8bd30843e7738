"""Draw the Performance page's charts and tables from a results file of `run.py`.

    python benchmarks/plot.py                     # benchmarks/results/results.json
    python benchmarks/plot.py path/to/results.json

Writes SVG charts to docs/assets/perf/ and the page's tables to
benchmarks/results/tables.md, which docs/explanation/performance.md includes.
Both are committed: rerun `run.py --docs` and this script to refresh the page.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("svg")
import matplotlib.pyplot as plt

_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RESULTS = _ROOT / "benchmarks" / "results" / "results.json"
CHARTS = _ROOT / "docs" / "assets" / "perf"
TABLES = _ROOT / "benchmarks" / "results" / "tables.md"
OURS = "#3f51b5"
FLOOR = "#9e9e9e"
PEER = "#ff9800"

mpl.rcParams.update(
    {
        "svg.fonttype": "none",  # text stays text: small files that follow the page's font
        "svg.hashsalt": "worker-locator",  # stable element ids, so a rerun changes only real figures
        "font.size": 10,
        "axes.spines.top": False,
        "axes.spines.right": False,
    }
)


def _colour(label: str, note: str) -> str:
    if label.startswith(("worker-locator", "LazyProxy", "get_locator")):
        return OURS
    if "floor" in note or label.startswith(
        ("raw dict", "functools", "plain", "constructors", "minimal", "next()", "floor:")
    ):
        return FLOOR
    return PEER


def _save(figure: Any, name: str) -> Path:
    CHARTS.mkdir(parents=True, exist_ok=True)
    path = CHARTS / f"{name}.svg"
    figure.savefig(path, format="svg", bbox_inches="tight", metadata={"Date": None})
    plt.close(figure)
    return path


def _bars(cases: list[dict[str, Any]], title: str, name: str, *, unit: str = "ns") -> Path:
    scale = {"ns": 1.0, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]
    labels = [c["label"] for c in cases]
    values = [c["cpu_ns"] / scale for c in cases]
    figure, axes = plt.subplots(figsize=(8, 0.34 * len(cases) + 1.0))
    bars = axes.barh(labels, values, color=[_colour(c["label"], c.get("note", "")) for c in cases])
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel(f"CPU time per call, {unit} (log scale; min of 7 repeats)")
    axes.set_title(title, loc="left")
    for bar, value in zip(bars, values, strict=True):
        shown = f" {value:,.0f}" if value >= 100 else f" {value:.3g}"
        axes.text(bar.get_width(), bar.get_y() + bar.get_height() / 2, shown, va="center", fontsize=8)
    return _save(figure, name)


def _scaling(results: dict[str, Any], name: str, title: str) -> Path | None:
    scenario = results["scenarios"].get(name)
    if scenario is None:
        return None
    figure, axes = plt.subplots(figsize=(8, 4))
    series: dict[str, list[tuple[int, float]]] = {}
    for case in scenario["cases"]:
        label, _, size = case["label"].rpartition(" at ")
        series.setdefault(label, []).append((int(size.replace(",", "")), case["cpu_ns"] / 1e3))
    for label, points in series.items():
        xs, ys = zip(*sorted(points), strict=True)
        ours = label.startswith("worker-locator")
        axes.plot(xs, ys, marker="o", label=label, color=OURS if ours else None, linewidth=2.5 if ours else 1)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("registrations in the locator or container (log scale)")
    axes.set_ylabel("CPU time, us (log scale)")
    axes.set_title(title, loc="left")
    axes.legend(fontsize=7, frameon=False)
    return _save(figure, name)


def _goals(results: dict[str, Any]) -> Path:
    verdicts = results["goals"]
    figure, axes = plt.subplots(figsize=(8, 0.4 * len(verdicts) + 1.0))
    labels = [v["goal"].split(" <= ")[0].split(" not slower")[0] for v in verdicts]
    factors = [v["value"] / v["limit"] for v in verdicts]
    colours = ["#4caf50" if v["met"] else ("#ff9800" if v["known_miss"] else "#f44336") for v in verdicts]
    axes.barh(labels, factors, color=colours)
    axes.axvline(1.0, color="black", linewidth=1)
    axes.invert_yaxis()
    axes.set_xscale("log")
    axes.set_xlabel("figure / goal (log scale): left of the line is met")
    axes.set_title("Goals of issue 10: green met, orange a known miss", loc="left")
    return _save(figure, "goals")


def _docs_run(results: dict[str, Any]) -> Path | None:
    scenario = results["scenarios"].get("docs_run")
    if scenario is None:
        return None
    cases = scenario["cases"]
    figure, axes = plt.subplots(figsize=(8, 0.5 * len(cases) + 1.0))
    labels = [c["label"] for c in cases]
    wall = [c["wall_ns"] / 1e9 for c in cases]
    cpu = [c["cpu_ns"] / 1e9 for c in cases]
    positions = range(len(cases))
    axes.barh([p - 0.2 for p in positions], wall, height=0.4, label="wall", color=OURS)
    axes.barh([p + 0.2 for p in positions], cpu, height=0.4, label="CPU (all processes)", color=FLOOR)
    axes.set_yticks(list(positions), labels)
    axes.invert_yaxis()
    axes.set_xlabel("seconds")
    axes.set_title("pytest docs/ src/ on 2 cores: -n 8 against -n 2", loc="left")
    axes.legend(frameon=False)
    return _save(figure, "docs_run")


def _fmt(ns: float) -> str:
    for limit, unit, scale in ((1e9, "s", 1e9), (1e6, "ms", 1e6), (1e4, "us", 1e3)):
        if ns >= limit:
            return f"{ns / scale:,.2f} {unit}" if unit != "us" else f"{ns / scale:,.1f} us"
    return f"{ns:,.0f} ns"


def _rows(scenario: dict[str, Any]) -> Iterable[str]:
    if "skipped" in scenario:
        yield f"Skipped: {scenario['skipped']}."
        return
    if any("instructions" in case for case in scenario["cases"]):
        yield "| case | instructions | the whole process | note |"
        yield "|---|--:|--:|---|"
        for case in scenario["cases"]:
            yield (
                f"| {case['label']} | {case['instructions']:,} | {case['process_instructions']:,}"
                f" | {case.get('note', '')} |"
            )
        return
    base = next((c for c in scenario["cases"] if c["label"] == scenario.get("baseline")), None)
    if base:
        yield "| case | CPU | x baseline | wall | x baseline | note |"
        yield "|---|--:|--:|--:|--:|---|"
    else:
        yield "| case | CPU | wall | note |"
        yield "|---|--:|--:|---|"
    for case in scenario["cases"]:
        note = case.get("note", "")
        if base:
            cpu_x = case["cpu_ns"] / base["cpu_ns"]
            wall_x = case["wall_ns"] / base["wall_ns"]
            yield (
                f"| {case['label']} | {_fmt(case['cpu_ns'])} | {cpu_x:.2f} | {_fmt(case['wall_ns'])}"
                f" | {wall_x:.2f} | {note} |"
            )
        else:
            yield f"| {case['label']} | {_fmt(case['cpu_ns'])} | {_fmt(case['wall_ns'])} | {note} |"


TITLES = {
    "cached_get": "Cached get, outside tests",
    "in_test_get": "Cached get inside a pytest test, plugin on and off",
    "cold_chain": "Cold construction of a 3-deep chain",
    "override": "override enter+exit",
    "isolation": "Per-test isolation: one test's change, then restore(checkpoint)",
    "suite": "A 1,000-test suite over many registrations, plugin on and off",
    "suite_instructions": "That suite and a plain one in instructions (callgrind), plugin on and off",
    "eviction": "get under eviction churn",
    "snapshot": "snapshot()",
    "docs_run": "pytest -n 8 docs/ src/ against -n 2",
}


def _docs_tables(figures: dict[str, Any]) -> list[str]:
    wall, cpu = figures["startup_wall_s"], figures["startup_cpu_s"]
    lines = [
        "",
        "### pytest -n 8 docs/ src/: start-up and where the time goes",
        "",
        (
            f"{figures['tests_passed']} examples passed; the durations pytest reports add up to"
            f" {figures['sum_of_test_seconds']:.0f} s of test time."
        ),
        "",
        "| workers | start-up wall (one empty test) | start-up CPU |",
        "|--:|--:|--:|",
    ]
    lines.extend(f"| {w} | {wall[w]:.2f} s | {cpu[w]:.2f} s |" for w in sorted(wall, key=int, reverse=True))
    lines += [
        "",
        "Slowest examples (call phase, from the -n 8 run):",
        "",
        "| seconds | example |",
        "|--:|---|",
    ]
    lines.extend(f"| {row['seconds']:.2f} | `{row['test']}` |" for row in figures["slowest"])
    lines += ["", "Time by page (setup, call and teardown):", "", "| seconds | page |", "|--:|---|"]
    lines.extend(
        f"| {seconds:.1f} | `{page}` |" for page, seconds in list(figures["seconds_by_page"].items())[:10]
    )
    return lines


def _kept_line(results: dict[str, Any]) -> list[str]:
    """The header line naming the scenarios kept from earlier runs, with their dates and commits."""
    kept = results["meta"].get("kept_from_earlier_run", [])
    if not kept:
        return []
    runs: dict[str, list[str]] = {}
    for name in kept:
        scenario = results["scenarios"][name]
        runs.setdefault(f"{scenario['date']}, commit `{scenario.get('commit', '?')}`", []).append(f"`{name}`")
    return [
        "- **Kept from an earlier run** (`run.py --keep`; each table gives its date): "
        + "; ".join(f"{', '.join(names)} from {run}" for run, names in runs.items())
    ]


def tables(results: dict[str, Any]) -> str:
    """Return the page's tables as Markdown."""
    meta = results["meta"]
    machine = meta["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in meta["versions"].items() if v)
    load = ", ".join(map(str, meta["load_at_end"]))
    others = ", ".join(f"{v}: {Path(p).parent.parent.name}" for v, p in meta.get("other_pythons", {}).items())
    lines = [
        "<!-- Generated by benchmarks/plot.py from benchmarks/results/results.json: do not edit by hand. -->",
        "",
        f"- **Date:** {meta['date']}, commit `{meta['commit']}`{' (quick mode)' if meta['quick'] else ''}",
        (
            f"- **Machine:** {machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB,"
            f" {machine['platform']}"
        ),
        *_kept_line(results),
        f"- **Python:** {meta['python']}" + (f"; LazyProxy also under {others}" if others else ""),
        f"- **Versions:** {versions}",
        (
            f"- **Load average at the end** (`uptime`, 1/5/15 min): {load}"
            ". Each scenario's own is given with its table."
        ),
        "",
        "### Goals",
        "",
        "| goal | figure | goal | figure / goal | status |",
        "|---|--:|--:|--:|---|",
    ]
    for verdict in results["goals"]:
        factor = verdict["value"] / verdict["limit"]
        lines.append(
            f"| {verdict['goal']} | {verdict['value']:.2f} x | <= {verdict['limit']:g} x"
            f" | {factor:.2f} | {verdict['status']} |"
        )
    for name, scenario in results["scenarios"].items():
        title = TITLES.get(name)
        if title is None and name.startswith("lazy_proxy_"):
            title = f"LazyProxy attribute access, Python {scenario['figures']['python']}"
        load = ", ".join(map(str, scenario.get("load_before", [])))
        when = f" Run {scenario['date']}." if "date" in scenario else ""
        lines += ["", f"### {title or name}", "", f"Load average before: {load}.{when}", "", *_rows(scenario)]
    docs = results["scenarios"].get("docs_run")
    if docs:
        lines += _docs_tables(docs["figures"])
    lines += ["", "### Where a peer has no equivalent", "", "| scenario | peer | why |", "|---|---|---|"]
    for scenario_name, peers in meta["no_equivalent"].items():
        lines.extend(f"| {scenario_name} | {peer} | {why} |" for peer, why in peers.items())
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Read the results, write the charts and the tables; return the exit status."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("results", nargs="?", type=Path, default=DEFAULT_RESULTS)
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"error: cannot read the results file {args.results}: {exc}", file=sys.stderr)
        return 2
    scenarios = results["scenarios"]
    written = [_goals(results)]
    for name, title, unit in (
        (
            "cached_get",
            "Cached get: CPU ns per call (blue: worker-locator, grey: floors, orange: peers)",
            "ns",
        ),
        ("cold_chain", "Cold 3-deep chain: CPU per build", "ns"),
        ("eviction", "get under eviction churn: max_cached=50, 1,000 keys cycling", "ns"),
    ):
        if name in scenarios:
            written.append(_bars(scenarios[name]["cases"], title, name, unit=unit))
    lazy = [
        {**case, "label": f"{case['label']}, {scenarios[name]['figures']['python']}"}
        for name in sorted(scenarios)
        if name.startswith("lazy_proxy_")
        for case in scenarios[name]["cases"]
    ]
    if lazy:
        written.append(_bars(lazy, "Attribute access: plain, pure-Python proxies, LazyProxy", "lazy_proxy"))
    for name, title in (
        ("override", "override enter+exit against the number of registrations"),
        ("isolation", "Per-test reset against the number of registrations"),
    ):
        path = _scaling(results, name, title)
        if path:
            written.append(path)
    docs_chart = _docs_run(results)
    if docs_chart:
        written.append(docs_chart)
    TABLES.write_text(tables(results), encoding="utf-8")
    for path in [*written, TABLES]:
        print(f"wrote {path.relative_to(_ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
