"""Mutation testing of the locator's core, in place, one mutant at a time.

The docs examples start pytest and Python subprocesses that import the installed (editable) package, so each
mutant is written into the real source file, and the file is always restored afterwards, byte for byte and
with its modification time: on success, failure, timeout, Ctrl-C, SIGTERM or SIGHUP. Only the mutated node's
text changes (the rest of the file keeps its comments and line numbers: the docs read the installed source).

    python .ci/mutate.py --seed 8 --sample 80 --suite unit    # the unit tests alone
    python .ci/mutate.py --seed 8 --sample 80 --suite docs    # the docs examples alone

Prints one line per mutant (and the test that killed it), then per-module scores and the survivors; with
--markdown FILE, also writes them as Markdown. The suite must pass on the unmutated code first, and a mutant
whose run outlives --timeout (default: 4 times that first run, at least 60 s) is reported apart.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import datetime as dt
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "worker_locator"
# The core: ServiceLocator and the modules it is split into, identity, LazyProxy and the fork hook.
MODULES = (
    "_locator.py",
    "_lookup.py",
    "_cache.py",
    "_construction.py",
    "_overrides.py",
    "_registry.py",
    "_entries.py",
    "_identity.py",
    "_lazy.py",
    "_fork.py",
    "_snapshot.py",
)
_PYTEST = ["-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider"]


def suite_command(suite: str, workers: int) -> list[str]:
    """The command of a suite: the README's docs command (likeliest pages first), or tests/unit."""
    python = sys.executable
    if suite == "docs":
        # The same tests as `pytest -n N docs/ src/`; pytest collects each file once, so naming the
        # architecture page (which reads the core's source) and the docstrings first only reorders them.
        first = ["src/", "docs/explanation/architecture.md", "docs/adr/0002-worker-cache-isolation.md"]
        return [python, "-m", "pytest", "-n", str(workers), *first, "docs/", *_PYTEST]
    return [python, "-m", "pytest", "-n", str(workers), "tests/unit", *_PYTEST]


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
    end_line: int
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


def _type_checking_ids(tree: ast.AST) -> set[int]:
    """The nodes under `if TYPE_CHECKING:`, which never run."""
    ids: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            for statement in node.body:
                ids.update(id(sub) for sub in ast.walk(statement))
    return ids


def _typing_only_names(tree: ast.Module, annotations: set[int]) -> set[str]:
    """Module-level names read only in annotations (TypeVars, aliases): removing them is a no-op."""
    assigned = {
        target.id
        for statement in tree.body
        if isinstance(statement, ast.Assign)
        for target in statement.targets
        if isinstance(target, ast.Name)
    }
    read = {
        node.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and id(node) not in annotations
    }
    return assigned - read - {"__all__", "__slots__"}


def _equivalent_statement(node: ast.AST, typing_only: set[str]) -> bool:
    """Whether removing this statement cannot change behaviour: `__slots__`, `__all__`, typing-only names."""
    if not isinstance(node, ast.Assign):
        return False
    names = {target.id for target in node.targets if isinstance(target, ast.Name)}
    return bool(names) and names <= {"__slots__", "__all__", *typing_only}


def _removable(node: ast.AST, typing_only: set[str]) -> bool:
    """Whether removing this statement is a mutant worth running (not a docstring, not an equivalent one)."""
    if not isinstance(node, ast.Expr | ast.Assign | ast.AugAssign | ast.Raise | ast.Delete):
        return False
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
        return False
    return not _equivalent_statement(node, typing_only)


def _candidates(tree: ast.Module) -> list[tuple[ast.AST, str]]:
    """Every node a mutation operator applies to, in a stable order, with what the mutation does."""
    annotations = _annotation_ids(tree)
    skip = _docstring_ids(tree) | annotations | _type_checking_ids(tree)
    typing_only = _typing_only_names(tree, annotations)
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
        elif _removable(node, typing_only):
            found.append((node, f"statement removed ({type(node).__name__})"))
    return found


def _mutated_node(node: ast.AST) -> tuple[ast.AST, str]:
    """Change the node in place; return the node whose source span is replaced, and its new text."""
    if isinstance(node, ast.Compare):
        node.ops[0] = SWAPS[type(node.ops[0])]()
        return node, f"({ast.unparse(node)})"
    if isinstance(node, ast.BoolOp):
        node.op = ast.Or() if isinstance(node.op, ast.And) else ast.And()
        return node, f"({ast.unparse(node)})"
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        node.value = not node.value
        return node, repr(node.value)
    if isinstance(node, ast.Constant) and isinstance(node.value, int):
        node.value += 1
        return node, f"({node.value!r})"
    if isinstance(node, ast.Return) and node.value is not None:
        value = node.value
        node.value = ast.Constant(value=None)
        return value, "None"
    raise AssertionError(node)


class _RemoveStatement(ast.NodeTransformer):
    """Replace one statement by `pass`, as the textual mutation does."""

    def __init__(self, target: int) -> None:
        self.target = target

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        for field, value in ast.iter_fields(node):
            if isinstance(value, list) and any(id(item) == self.target for item in value):
                setattr(node, field, [ast.Pass() if id(item) == self.target else item for item in value])
        return node


def _offset(lines: list[str], line: int, column: int) -> int:
    """The character offset of a node position (`column` counts UTF-8 bytes, as ast does)."""
    text = lines[line - 1]
    return sum(len(x) for x in lines[: line - 1]) + len(text.encode()[:column].decode())


def mutated_source(source: str, index: int) -> str:
    """The module's source with candidate number `index` applied to that node's text only.

    Raises:
        ValueError: The textual edit does not give the intended tree (then the mutant is not run).
    """
    tree = ast.parse(source)
    node, description = _candidates(tree)[index]
    if description.startswith("statement removed"):
        _RemoveStatement(id(node)).visit(tree)
        span, text = node, "pass"
    else:
        span, text = _mutated_node(node)
    lines = source.splitlines(keepends=True)
    start = _offset(lines, span.lineno, span.col_offset)  # type: ignore[attr-defined]
    end = _offset(lines, span.end_lineno, span.end_col_offset)  # type: ignore[attr-defined]
    # Keep the line count, so that every other line keeps its number.
    text += "\n" * source[start:end].count("\n")
    mutated = source[:start] + text + source[end:]
    if ast.dump(ast.parse(mutated)) != ast.dump(tree):
        msg = f"the textual mutation of candidate {index} ({description}) does not give the intended tree"
        raise ValueError(msg)
    return mutated


def all_mutants() -> list[Mutant]:
    """Every mutant of every core module that exists on this branch."""
    mutants: list[Mutant] = []
    for module in MODULES:
        path = PACKAGE / module
        if not path.exists():
            print(f"note: {path.relative_to(ROOT)} does not exist here; not mutated", file=sys.stderr)
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for index, (node, description) in enumerate(_candidates(tree)):
            line = getattr(node, "lineno", 0)
            mutants.append(Mutant(module, index, line, getattr(node, "end_lineno", line), description))
    return mutants


def check_clean() -> str:
    """Refuse to start while src/ differs from git (a mutant an earlier run left behind); return HEAD."""
    git = ["git", "-C", str(ROOT)]
    status = [*git, "status", "--porcelain", "--", "src/"]
    result = subprocess.run(status, capture_output=True, text=True, check=True)  # noqa: S603
    if result.stdout.strip():
        sys.exit(
            "error: src/ has uncommitted changes (a mutant a killed run left behind, or your own work);"
            " see `git status src/`, restore with `git checkout src/` or commit, and rerun"
        )
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True)  # noqa: S603
    return head.stdout.strip()


class _Interrupted(BaseException):
    """A signal asked the run to stop; raised so that every `finally` restores what it changed."""


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise _Interrupted(signum)


@contextlib.contextmanager
def _signals_blocked() -> Iterator[None]:
    """Hold off SIGINT, SIGTERM and SIGHUP while a file is written, so that a restore always completes."""
    blocked = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _write_atomically(path: Path, data: bytes, stat: os.stat_result | None = None) -> None:
    """Replace `path` in one step (no reader ever sees half a file), with `stat`'s mode and times if given."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mutate")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
        if stat is not None:
            Path(temporary).chmod(stat.st_mode)
            os.utime(temporary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        Path(temporary).replace(path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            Path(temporary).unlink()
        raise


@contextlib.contextmanager
def mutant_in_place(path: Path, source: str) -> Iterator[None]:
    """Write `source` over `path` for the block's duration, then put the original back, whatever happens."""
    original = path.read_bytes()
    stat = path.stat()
    try:
        with _signals_blocked():
            _write_atomically(path, source.encode())
        yield
    finally:
        with _signals_blocked():
            _write_atomically(path, original, stat)


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    """Kill the suite and everything it started (xdist workers, the examples' subprocesses)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def run_suite(command: list[str], timeout: float) -> tuple[str, str]:
    """Run the suite once: ('passed' | 'failed' | 'timeout', the first failing test or the output's tail)."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")  # no mutant's bytecode is ever cached
    with tempfile.TemporaryFile() as output:
        process = subprocess.Popen(  # noqa: S603
            command, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        try:
            returncode = process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return "timeout", f"still running after {timeout:.0f} s"
        finally:
            _kill_group(process)  # also the workers and subprocesses left behind by a failed run
        output.seek(0)
        text = output.read().decode(errors="replace")
    if returncode == 0:
        return "passed", ""
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", text, re.MULTILINE)
    return "failed", failed[0] if failed else " | ".join(text.strip().splitlines()[-3:])


def run_mutant(mutant: Mutant, command: list[str], timeout: float) -> tuple[str, str]:
    """Run the suite against one mutant: ('killed' | 'survived' | 'timeout' | 'invalid', detail)."""
    path = PACKAGE / mutant.module
    try:
        source = mutated_source(path.read_text(encoding="utf-8"), mutant.index)
        compile(source, str(path), "exec")
    except (SyntaxError, ValueError) as exc:
        return "invalid", str(exc)
    with mutant_in_place(path, source):
        outcome, detail = run_suite(command, timeout)
    return {"passed": "survived", "failed": "killed", "timeout": "timeout"}[outcome], detail


def executed_lines(folder: Path) -> dict[str, set[int]]:
    """The lines of each core module that ran, from the coverage data files in `folder` (kept)."""
    import coverage  # noqa: PLC0415 - needed only with --prune or --executed

    with tempfile.TemporaryDirectory() as scratch:
        # combine() reads the files of a folder named as the data file is, plus a suffix: .coverage.*
        cov = coverage.Coverage(data_file=str(Path(scratch) / ".coverage"))
        cov.combine([str(folder)], keep=True)
        data = cov.get_data()
        lines: dict[str, set[int]] = {}
        for filename in data.measured_files():
            path = Path(filename)
            if path.parent.name == PACKAGE.name and path.name in MODULES:
                lines.setdefault(path.name, set()).update(data.lines(filename) or ())
    if not lines:
        sys.exit(f"error: the coverage data in {folder} measured none of the core modules")
    return lines


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def markdown(results: list[tuple[Mutant, str, str]], args: argparse.Namespace, facts: dict[str, str]) -> str:
    """The scores and survivors as Markdown (the raw material of docs/_data/mutation.md)."""
    lines = [
        (
            f"Run {facts['started']} UTC on commit `{facts['commit']}`, suite `{args.suite}`"
            f" (`{facts['command']}`), {len(results)} mutants sampled with seed {args.seed} out of"
            f" {facts['population']}; took {facts['took']}, load average {facts['load']}."
            f" Repeat with `python .ci/mutate.py --seed {args.seed} --sample {args.sample}"
            f" --suite {args.suite}{' --prune' if facts['pruned'] == 'yes' else ''}`."
        ),
        "",
        "| module | mutants | killed | timed out | survived | score |",
        "|---|---|---|---|---|---|",
    ]
    valid = [(m, o) for m, o, _ in results if o != "invalid"]
    # A timeout is either a mutant that hangs the suite or a loaded machine: shown apart, and left
    # out of the score, so that load never raises it.
    for module in [*sorted({m.module for m, _ in valid}), None]:
        outcomes = [o for m, o in valid if module is None or m.module == module]
        killed, survived = outcomes.count("killed"), outcomes.count("survived")
        score = f"{100 * killed / (killed + survived):.0f}%" if killed + survived else "-"
        name = "**all**" if module is None else f"`{module}`"
        lines.append(
            f"| {name} | {len(outcomes)} | {killed} | {outcomes.count('timeout')} | {survived} | {score} |"
        )
    timeouts = [f"- `{m.module}:{m.line}` {m.description}" for m, o, _ in results if o == "timeout"]
    if timeouts:
        lines += ["", "Timed out (not in the score):", "", *timeouts]
    never = sum(detail.startswith("not run") for _, _, detail in results)
    if never:
        lines += ["", f"{never} of the survivors are on lines the suite never executes (not run)."]
    lines += ["", "Surviving mutants:", ""]
    lines += [
        f"- `{m.module}:{m.line}` {m.description}{' (never executed)' if d.startswith('not run') else ''}"
        for m, o, d in results
        if o == "survived"
    ]
    invalid = [f"- `{m.module}:{m.line}` {m.description}: {d}" for m, o, d in results if o == "invalid"]
    if invalid:
        lines += ["", "Not run (the edit did not give the intended tree):", "", *invalid]
    return "\n".join(lines) + "\n"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--sample", type=int, default=80)
    parser.add_argument("--suite", choices=("docs", "unit"), default="unit")
    # On 2 cores the docs suite took 60 s with -n 2 and 64 s with -n 8 (2026-12-02, load about 2).
    parser.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (-n); default 2")
    parser.add_argument("--timeout", type=float, help="seconds per mutant (default 4 x the unmutated run)")
    parser.add_argument("--markdown", type=Path, help="also write the scores and survivors to this file")
    parser.add_argument("--only", help="run only the sampled mutants of this module (e.g. _lazy.py)")
    parser.add_argument("--list", action="store_true", help="print the sample and exit")
    parser.add_argument(
        "--pick",
        help="run only these positions of the sample, 1-based and comma-separated (e.g. the survivors"
        " of an earlier run: 6,7,9)",
    )
    parser.add_argument(
        "--prune",
        action="store_true",
        help="run the unmutated suite under coverage, and count a mutant of a line it never runs as"
        " survived without running it (it cannot be killed)",
    )
    parser.add_argument(
        "--executed",
        type=Path,
        help="prune as --prune does, from the coverage data files of this folder (same commit);"
        " with --timeout, the unmutated run is skipped (that coverage run was it)",
    )
    args = parser.parse_args()
    if args.prune and args.executed:
        parser.error("--prune and --executed exclude each other")
    if args.pick is not None:
        try:
            args.pick = [int(part) for part in args.pick.split(",")]
        except ValueError:
            parser.error(f"--pick takes sample positions like 6,7,9, not {args.pick[:40]!r}")
        if not all(1 <= position <= args.sample for position in args.pick):
            parser.error(f"--pick positions must be from 1 to --sample ({args.sample})")
    return args


def _unmutated(command: list[str], args: argparse.Namespace) -> tuple[float, dict[str, set[int]] | None]:
    """Run the suite on the unmutated code (under coverage with --prune); return its time and what ran."""
    if args.executed:
        executed = executed_lines(args.executed)
        if args.timeout:
            return 0.0, executed
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as measured:
        first = command
        if args.prune:
            first = [*command[:2], "coverage", "run", "--data-file", f"{measured}/.coverage", *command[1:]]
        outcome, detail = run_suite(first, 1800.0)  # however loaded the machine
        if outcome != "passed":
            sys.exit(f"error: the suite fails on the unmutated code ({outcome}: {detail}); fix that first")
        baseline = time.monotonic() - started
        print(f"unmutated suite passed in {baseline:.0f} s", flush=True)
        if args.prune:
            return baseline, executed_lines(Path(measured))
    return baseline, executed if args.executed else None


def _never_run(mutant: Mutant, executed: dict[str, set[int]] | None) -> bool:
    if executed is None:
        return False
    return executed.get(mutant.module, set()).isdisjoint(range(mutant.line, mutant.end_line + 1))


def main() -> None:
    """Sample mutants with a seed, run the chosen suite against each, and report."""
    args = _arguments()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    commit = check_clean()
    mutants = all_mutants()
    rng = random.Random(args.seed)  # noqa: S311 (a reproducible sample, not a secret)
    # In the order drawn: the first K of a sample are the sample of size K (random.sample draws one by
    # one), so a run stopped early has still run a seeded sample, the one `--sample K` repeats.
    sample = rng.sample(mutants, min(args.sample, len(mutants)))
    if args.pick:
        sample = [sample[position - 1] for position in args.pick]
    if args.only:
        sample = [m for m in sample if m.module == args.only]
    if args.list:
        for mutant in sample:
            print(f"{mutant.module}:{mutant.line} {mutant.description}")
        return
    command = suite_command(args.suite, args.workers)
    started_at = dt.datetime.now(dt.UTC)
    print(f"commit {commit}, {started_at:%Y-%m-%d %H:%M} UTC, load {_load()}:", shlex.join(command))
    started = time.monotonic()
    baseline, executed = _unmutated(command, args)
    timeout = args.timeout or max(60.0, 4 * baseline)
    print(f"timeout per mutant {timeout:.0f} s", flush=True)
    results: list[tuple[Mutant, str, str]] = []
    try:
        for number, mutant in enumerate(sample, 1):
            begun = time.monotonic()
            if _never_run(mutant, executed):
                outcome, detail = "survived", "not run: the suite never executes this line"
            else:
                outcome, detail = run_mutant(mutant, command, timeout)
            results.append((mutant, outcome, detail))
            print(
                f"[{number}/{len(sample)}] {outcome:8} {mutant.module}:{mutant.line} {mutant.description}"
                f" ({time.monotonic() - begun:.0f} s) {detail}",
                flush=True,
            )
    except _Interrupted:
        print(f"stopped after {len(results)} mutants: the report is that of --sample {len(results)}")
        args.sample = len(results)
    facts = {
        "started": f"{started_at:%Y-%m-%d %H:%M}",
        "commit": commit[:12],
        "command": " ".join(["pytest", *command[3:]]),
        "population": str(len(mutants)),
        "pruned": "yes" if executed is not None else "no",
        "took": f"{(time.monotonic() - started) / 60:.0f} min",
        "load": _load(),
    }
    report = markdown(results, args, facts)
    print(report)
    if args.markdown:
        args.markdown.write_text(report, encoding="utf-8")


if __name__ == "__main__":
    try:
        main()
    except _Interrupted as stop:
        sys.exit(f"stopped by signal {stop.args[0]}; the source files are restored")
