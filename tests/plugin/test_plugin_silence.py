"""A run that never touches the locator prints exactly what it prints without the plugin."""

from __future__ import annotations

import re
import textwrap

import pytest

UNUSED = """
    import pytest

    @pytest.mark.parametrize("n", range(3))
    def test_numbers(n):
        assert n < 3

    def test_text():
        assert "a" in "abc"
"""

_TIMING = re.compile(r" in \d+\.\d+s( \(\d+:\d\d:\d\d\))?")

_RULER = re.compile(r"^=+ (.*?) =+$")


def _lines(result: pytest.RunResult) -> list[str]:
    # pytest's own "plugins:" line names every installed plugin; it is not the plugin's output.
    lines = (line for line in result.outlines + result.errlines if not line.startswith("plugins: "))
    # A summary's "=" padding depends on the width of its duration ("9.59s" or "10.07s"): drop it.
    return [_RULER.sub(r"== \1 ==", _TIMING.sub(" in N s", line)) for line in lines]


@pytest.mark.parametrize(
    "options",
    [[], ["-v"], ["-vv"], ["-q"], ["--co"], ["--co", "-v"], ["-rA", "-v"]],
    ids=lambda options: " ".join(options) or "default",
)
def test_output_is_the_same_with_and_without_the_plugin(
    pytester: pytest.Pytester, options: list[str]
) -> None:
    pytester.makepyfile(UNUSED)
    base = ["-p", "no:randomly", "-p", "no:cacheprovider", *options]
    with_plugin = pytester.runpytest_inprocess(*base)
    without = pytester.runpytest_inprocess(*base, "-p", "no:worker_locator")
    assert with_plugin.ret == without.ret
    assert _lines(with_plugin) == _lines(without)


def test_output_is_the_same_under_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(UNUSED)
    base = ["-p", "no:randomly", "-p", "no:cacheprovider", "-n", "2"]
    with_plugin = pytester.runpytest_subprocess(*base)
    without = pytester.runpytest_subprocess(*base, "-p", "no:worker_locator")
    assert with_plugin.ret == without.ret == 0
    assert _lines(with_plugin) == _lines(without)


# A pytester-based suite of the kind plugins have (pytest-randomly's, for one): it runs pytest
# inside its tests and asserts exact output lines. Its conftest and its outer test use the
# default locator, so the inner runs start with a locator that has registrations and a cached
# service; they do not use it themselves, and must print what they would without the plugin.
PYTESTER_SUITE = {
    "conftest.py": """
        from worker_locator import get_locator

        pytest_plugins = ["pytester"]

        get_locator().register("settings", dict)
    """,
    "test_inner_runs.py": """
        import pytest
        from worker_locator import get_locator

        INNER = "def test_a():\\n    pass\\n\\ndef test_b():\\n    pass\\n"

        @pytest.mark.parametrize("verbosity", ["-v", "-vv"])
        def test_exact_verbose_lines(pytester, verbosity):
            get_locator().get("settings")["outer"] = True
            pytester.makepyfile(test_one=INNER)
            result = pytester.runpytest(verbosity, "-p", "no:randomly", "-p", "no:cacheprovider")
            lines = result.outlines
            plugins = next(i for i, line in enumerate(lines) if line.startswith("plugins: "))
            assert lines[plugins + 1 : plugins + 5] == [
                "collecting ... collected 2 items",
                "",
                "test_one.py::test_a PASSED                                               [ 50%]",
                "test_one.py::test_b PASSED                                               [100%]",
            ]
            assert lines[plugins + 6].startswith("============================== 2 passed in ")
            assert len(lines) == plugins + 7

        def test_exact_quiet_lines(pytester):
            pytester.makepyfile(test_one=INNER)
            result = pytester.runpytest("-q", "-p", "no:randomly", "-p", "no:cacheprovider")
            assert result.outlines[0] == ".." + " " * 71 + "[100%]"
            assert result.outlines[1].startswith("2 passed in ")
            assert len(result.outlines) == 2

        def test_exact_collect_only_lines(pytester):
            pytester.makepyfile(test_one=INNER)
            result = pytester.runpytest("--co", "-q", "-p", "no:randomly", "-p", "no:cacheprovider")
            assert result.outlines[:3] == ["test_one.py::test_a", "test_one.py::test_b", ""]
            assert result.outlines[3].startswith("2 tests collected in ")
            assert len(result.outlines) == 4
    """,
}


@pytest.mark.parametrize("runner", ["inprocess", "subprocess"])
def test_a_pytester_suite_asserting_exact_lines_passes_with_the_plugin(
    pytester: pytest.Pytester, runner: str
) -> None:
    for name, text in PYTESTER_SUITE.items():
        (pytester.path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    args = ["-p", "no:randomly", "-p", "no:cacheprovider", f"--runpytest={runner}", "-v"]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(passed=4)
