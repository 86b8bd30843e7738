#!/usr/bin/env python3
"""Render the docs' diagrams: each docs/assets/diagrams/NAME.dot to NAME.svg beside it, with Graphviz.

    python .ci/render_diagrams.py           # rewrite every SVG from its .dot source
    python .ci/render_diagrams.py --check   # exit 1, naming them, if a committed SVG is not current

The SVGs are committed, so that the site shows them without Graphviz and fetches
nothing when it is read; tests/docs/test_diagrams.py checks they match their sources.
Exit status: 0 done (or current), 1 stale or missing SVGs (--check), 2 no usable `dot`.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

DIAGRAMS = Path(__file__).resolve().parent.parent / "docs" / "assets" / "diagrams"


def dot_version(dot: str) -> str:
    """Return what `dot -V` says, e.g. `dot - graphviz version 2.43.0 (0)`."""
    done = subprocess.run([dot, "-V"], capture_output=True, text=True, check=True, timeout=60)  # noqa: S603 - Graphviz found on PATH
    return (done.stderr or done.stdout).strip()


def render(dot: str, source: Path) -> bytes:
    """Return the SVG that Graphviz draws from `source`; raise with its message if it fails."""
    done = subprocess.run(  # noqa: S603 - Graphviz found on PATH, on a file of this repository
        [dot, "-Tsvg", str(source)], capture_output=True, check=False, timeout=120
    )
    if done.returncode != 0 or done.stderr.strip():
        msg = f"{source.name}: dot failed or warned: {done.stderr.decode(errors='replace').strip()}"
        raise RuntimeError(msg)
    return done.stdout


def main() -> int:
    """Render (or check) every diagram; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed SVGs, write nothing")
    args = parser.parse_args()
    dot = shutil.which("dot")
    if dot is None:
        print("error: no `dot` on PATH: install Graphviz (Debian: apt-get install graphviz)", file=sys.stderr)
        return 2
    sources = sorted(DIAGRAMS.glob("*.dot"))
    if not sources:
        print(f"error: no .dot file in {DIAGRAMS}", file=sys.stderr)
        return 2
    stale = []
    for source in sources:
        try:
            svg = render(dot, source)
        except RuntimeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        target = source.with_suffix(".svg")
        if args.check:
            if not target.is_file() or target.read_bytes() != svg:
                stale.append(target.name)
        else:
            target.write_bytes(svg)
            print(f"wrote {target.relative_to(DIAGRAMS.parents[2])}")
    if stale:
        print(
            f"not current with their .dot sources ({dot_version(dot)}): {', '.join(stale)};"
            " run python .ci/render_diagrams.py and commit the SVGs",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
