"""Mutation testing of the locator's core, in place, one mutant at a time.

The docs examples start pytest and Python subprocesses that import the installed (editable) package, so each
mutant is written into the real source file and the file is always restored afterwards.

    python .ci/mutate.py --seed 8 --sample 80 --suite docs    # the docs examples alone
    python .ci/mutate.py --seed 8 --sample 80 --suite unit    # the unit tests alone

Writes per-module scores and the survivors to stdout and, with --markdown FILE, as a Markdown table.
"""

from __future__ import annotations

import argparse
import ast
import datetime as dt
import random
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "worker_locator"
MODULES = (
    "_locator.py",
    "_registry.py",
    "_cache.py",
    "_construction.py",
    "_overrides.py",
    "_entries.py",
    "_snapshot.py",
    "_identity.py",
    "_lazy.py",
    "_fork.py",
)
SUITES = {
    "docs": ["pytest", "-n", "8", "docs/", "src/", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
    "unit": ["pytest", "tests/unit", "-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"],
}
SWAPS: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.GtE,
    ast.GtE: ast.Lt,
    ast.Gt: ast.LtE,
    ast.LtE: ast.Gt,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}


@dataclass(frozen=True)
class Mutant:
    """One change to one node of one module: where it is and what it does."""

    module: str
    index: int
    line: int
    description: str


def _docstring_ids(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                ids.add(id(body[0]))
    return ids


def _annotation_ids(tree: ast.AST) -> set[int]:
    ids: set[int] = set()
    for node in ast.walk(tree):
        annotations: list[ast.expr | None] = []
        if isinstance(node, ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        elif isinstance(node, ast.AnnAssign):
            annotations.append(node.annotation)
        for annotation in annotations:
            if annotation is not None:
                ids.update(id(sub) for sub in ast.walk(annotation))
    return ids


def _candidates(tree: ast.AST) -> list[tuple[ast.AST, str]]:
    """Every node a mutation operator applies to, in a stable order, with what the mutation does."""
    skip = _docstring_ids(tree) | _annotation_ids(tree)
    found: list[tuple[ast.AST, str]] = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Compare) and type(node.ops[0]) in SWAPS:
            new = SWAPS[type(node.ops[0])]
            found.append((node, f"comparison {type(node.ops[0]).__name__} -> {new.__name__}"))
        elif isinstance(node, ast.BoolOp):
            other = "or" if isinstance(node.op, ast.And) else "and"
            found.append((node, f"boolean operator -> {other}"))
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            found.append((node, f"constant {node.value} -> {not node.value}"))
        elif isinstance(node, ast.Constant) and type(node.value) is int:
            found.append((node, f"constant {node.value} -> {node.value + 1}"))
        elif isinstance(node, ast.Return) and node.value is not None:
            if not (isinstance(node.value, ast.Constant) and node.value.value is None):
                found.append((node, "return value -> None"))
        elif isinstance(node, ast.Expr | ast.Assign | ast.AugAssign | ast.Raise | ast.Delete) and (
            not isinstance(node, ast.Expr) or not isinstance(node.value, ast.Constant)
        ):
            found.append((node, f"statement removed ({type(node).__name__})"))
    return found


def _apply(node: ast.AST) -> None:
    """Change the node in place (the tree is parsed afresh for each mutant)."""
    if isinstance(node, ast.Compare):
        node.ops[0] = SWAPS[type(node.ops[0])]()
    elif isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
    elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
        node.value = not node.value
    elif isinstance(node, ast.Constant) and isinstance(node.value, int):
        node.value += 1
    elif isinstance(node, ast.Return):
        node.value = ast.Constant(value=None)


class _RemoveStatement(ast.NodeTransformer):
    def __init__(self, target: int) -> None:
        self.target = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and any(id(item) == self.target for item in value):
                kept = [item for item in value if id(item) != self.target]
                setattr(node, field, kept or [ast.Pass()])
        return node


def mutated_source(path: Path, index: int) -> str:
    """The module's source with candidate number `index` applied."""
    tree = ast.parse(path.read_text())
    node, description = _candidates(tree)[index]
    if description.startswith("statement removed"):
        _RemoveStatement(id(node)).visit(tree)
    else:
        _apply(node)
    return ast.unparse(ast.fix_missing_locations(tree))


def all_mutants() -> list[Mutant]:
    """Every mutant of every core module that exists on this branch."""
    mutants: list[Mutant] = []
    for module in MODULES:
        path = PACKAGE / module
        if not path.exists():
            continue
        tree = ast.parse(path.read_text())
        for index, (node, description) in enumerate(_candidates(tree)):
            mutants.append(Mutant(module, index, getattr(node, "lineno", 0), description))
    return mutants


def check_clean() -> None:
    """Refuse to start while a source file differs from git (a mutant an earlier run left behind)."""
    result = subprocess.run(["git", "diff", "--quiet", "--", "src/"], cwd=ROOT, check=False)  # noqa: S607
    if result.returncode != 0:
        sys.exit("error: src/ has uncommitted changes; commit or restore them (git diff src/) and rerun")


def run_mutant(mutant: Mutant, command: list[str], timeout: float) -> str:
    """Run the suite against one mutant: 'killed', 'survived', 'timeout' (counted killed) or 'invalid'."""
    path = PACKAGE / mutant.module
    backup = path.with_suffix(".py.mutate-backup")
    shutil.copy2(path, backup)
    try:
        source = mutated_source(path, mutant.index)
        try:
            compile(source, str(path), "exec")
        except SyntaxError:
            return "invalid"
        path.write_text(source)
        try:
            result = subprocess.run(  # noqa: S603
                command, cwd=ROOT, capture_output=True, timeout=timeout, check=False
            )
        except subprocess.TimeoutExpired:
            return "timeout"
        return "survived" if result.returncode == 0 else "killed"
    finally:
        shutil.copy2(backup, path)
        backup.unlink()


def markdown(results: list[tuple[Mutant, str]], args: argparse.Namespace) -> str:
    """The scores and survivors as the Markdown the architecture page includes."""
    lines = [
        (
            f"Last run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, suite `{args.suite}`, "
            f"{len(results)} mutants sampled with seed {args.seed}. Repeat with "
            f"`python .ci/mutate.py --seed {args.seed} --sample {args.sample} --suite {args.suite}`."
        ),
        "",
        "| module | mutants | killed | score |",
        "|---|---|---|---|",
    ]
    for module in sorted({m.module for m, _ in results}):
        outcomes = [o for m, o in results if m.module == module and o != "invalid"]
        killed = sum(o in {"killed", "timeout"} for o in outcomes)
        score = f"{100 * killed / len(outcomes):.0f}%" if outcomes else "-"
        lines.append(f"| `{module}` | {len(outcomes)} | {killed} | {score} |")
    lines += ["", "Surviving mutants:", ""]
    lines += [f"- `{m.module}:{m.line}` {m.description}" for m, o in results if o == "survived"]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Sample mutants with a seed, run the chosen suite against each, and report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--sample", type=int, default=80)
    parser.add_argument("--suite", choices=sorted(SUITES), default="unit")
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    # A plain `kill` must still run the finally that restores the mutated file.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    check_clean()
    mutants = all_mutants()
    rng = random.Random(args.seed)  # noqa: S311 (a reproducible sample, not a secret)
    sample = sorted(
        rng.sample(mutants, min(args.sample, len(mutants))),
        key=lambda m: (m.module, m.index),
    )
    results: list[tuple[Mutant, str]] = []
    for number, mutant in enumerate(sample, 1):
        started = time.monotonic()
        outcome = run_mutant(mutant, SUITES[args.suite], args.timeout)
        results.append((mutant, outcome))
        print(
            f"[{number}/{len(sample)}] {outcome:8} {mutant.module}:{mutant.line} {mutant.description} "
            f"({time.monotonic() - started:.0f} s)",
            flush=True,
        )
    report = markdown(results, args)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)


if __name__ == "__main__":
    main()
