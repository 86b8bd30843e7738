"""Branch coverage of src/ from the docs examples alone and from the docs and tests together.

`.ci/dev test` runs the docs step and the test suite under `coverage run`, each writing its data
(one file per process: the xdist workers and the pytest and Python subprocesses the examples start,
through coverage's `[run] patch` in pyproject.toml) into a folder of its own. This script combines
each folder, prints both figures, and exits 1 when the combined one is under --fail-under.

    python .ci/coverage_report.py --docs DIR --tests DIR [--fail-under 95] [--markdown FILE]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import coverage

ROOT = Path(__file__).resolve().parent.parent
# Only this checkout's package counts, not a copy of the checkout that a test installs elsewhere.
PACKAGE = [f"{ROOT / 'src' / 'worker_locator'}/*"]


def combined(folders: list[Path], into: Path) -> dict[str, dict[str, float]]:
    """Combine the data of `folders` (kept) into the folder `into`; return per-file and total figures."""
    into.mkdir()
    # combine() reads the files of a folder named as the data file is, plus a suffix: .coverage.*
    data_file = into / ".coverage"
    cov = coverage.Coverage(data_file=str(data_file))
    cov.combine([str(folder) for folder in folders], keep=True)
    cov.save()
    report = into / "coverage.json"
    cov.json_report(outfile=str(report), include=PACKAGE)
    data = json.loads(report.read_text(encoding="utf-8"))
    figures = {name: _figures(details["summary"]) for name, details in data["files"].items()}
    figures["total"] = _figures(data["totals"])
    return figures


def _figures(summary: dict[str, float]) -> dict[str, float]:
    return {
        "percent": summary["percent_covered"],
        "branches": summary.get("num_branches", 0),
        "missing_branches": summary.get("missing_branches", 0),
        "statements": summary["num_statements"],
        "missing_lines": summary["missing_lines"],
    }


def markdown(docs: dict[str, dict[str, float]], both: dict[str, dict[str, float]], threshold: float) -> str:
    """The two figures and the per-module table, as the architecture page includes them."""
    commit = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "--short=12", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    lines = [
        (
            f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on commit `{commit}` (load average"
            f" {load}) by `.ci/dev test`, which runs the docs step and the test suite under coverage"
            f" and fails under {threshold:.0f}% combined. Branch coverage of `src/worker_locator`"
            f" (statements and branches together, as coverage.py counts them):"
        ),
        "",
        "| module | docs examples alone | docs and tests |",
        "|---|---|---|",
    ]
    for name in sorted(name for name in both if name != "total"):
        shown = name.split("src/", 1)[-1]
        alone = docs.get(name, {}).get("percent", 0.0)
        lines.append(f"| `{shown}` | {alone:.1f}% | {both[name]['percent']:.1f}% |")
    lines.append(f"| **total** | **{docs['total']['percent']:.1f}%** | **{both['total']['percent']:.1f}%** |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Print the docs-only and combined figures; fail under the threshold."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--docs", type=Path, required=True, help="the docs step's coverage data folder")
    parser.add_argument("--tests", type=Path, required=True, help="the test suite's coverage data folder")
    parser.add_argument("--fail-under", type=float, default=95.0)
    parser.add_argument("--markdown", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    for folder in (args.docs, args.tests):
        if not any(folder.glob(".coverage*")):
            sys.exit(f"error: no coverage data in {folder}; run the suites under `coverage run` first")
    with tempfile.TemporaryDirectory() as scratch:
        docs = combined([args.docs], Path(scratch) / "docs")
        both = combined([args.docs, args.tests], Path(scratch) / "both")
        cov = coverage.Coverage(data_file=str(Path(scratch) / "both" / ".coverage"))
        cov.load()
        cov.report(show_missing=True, skip_covered=True, include=PACKAGE)
    print(f"branch coverage of src/: docs examples alone {docs['total']['percent']:.1f}%,")
    print(f"                         docs and tests together {both['total']['percent']:.1f}%")
    if args.markdown:
        args.markdown.write_text(markdown(docs, both, args.fail_under), encoding="utf-8")
    if both["total"]["percent"] < args.fail_under:
        sys.exit(f"error: combined branch coverage {both['total']['percent']:.1f}% < {args.fail_under:.0f}%")


if __name__ == "__main__":
    main()
