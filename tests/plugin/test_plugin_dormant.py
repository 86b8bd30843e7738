"""A suite that has not used the default locator yet runs none of the plugin's per-test hooks.

The plugin stays dormant until a test or a fixture first creates the default
locator, then isolates it from that moment on with the same semantics as when
the conftest created it: what a test registered is undone after it, what a
wider fixture registered lasts until that fixture's teardown. Every run here
is a subprocess, so that no default locator exists before its session starts
(an in-process run would share this process's). A wider fixture that creates the
locator is tested with the other wider fixtures, in `test_plugin_isolation.py`, and a
failure report that counts the tests run before the locator existed in `test_plugin_pollution.py`.
"""

from __future__ import annotations

import pytest

# A plugin that reports, at the end, whether the default locator exists and whether the per-test
# hooks were registered: what a suite that never uses the locator must not pay for.
PROBE = """
import worker_locator._default as default

def pytest_sessionfinish(session):
    hooks = [name for name, _ in session.config.pluginmanager.list_name_plugin()
             if name and name.startswith("worker_locator_unit_hooks")]
    print(f"PROBE default={default.current_default() is not None} unit_hooks={bool(hooks)}")
"""


def _probe(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(probe=PROBE)
    pytester.syspathinsert()


def test_a_suite_that_never_uses_the_locator_creates_it_nowhere_and_registers_no_per_test_hook(
    pytester: pytest.Pytester,
) -> None:
    _probe(pytester)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.parametrize("n", range(3))
        def test_plain(n):
            assert n >= 0
        """
    )
    result = pytester.runpytest_subprocess("-p", "probe", "-p", "no:randomly", "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*PROBE default=False unit_hooks=False*"])


def test_a_locator_first_created_inside_a_test_is_reset_after_it(pytester: pytest.Pytester) -> None:
    _probe(pytester)
    pytester.makepyfile(
        """
        from worker_locator import get_locator

        def test_1_plain():
            pass

        def test_2_first_use():
            get_locator().register("left", lambda: "behind")
            assert get_locator().get("left") == "behind"

        def test_3_starts_clean():
            assert "left" not in get_locator().registered()
        """
    )
    result = pytester.runpytest_subprocess("-p", "probe", "-p", "no:randomly", "-s")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*PROBE default=True unit_hooks=True*"])


def test_reset_locator_as_the_first_use_is_undone_too(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from worker_locator import get_locator, reset_locator

        def test_1_first_use_replaces():
            reset_locator().register("left", lambda: "behind")

        def test_2_starts_clean():
            assert "left" not in get_locator().registered()
        """
    )
    pytester.runpytest_subprocess("-p", "no:randomly").assert_outcomes(passed=2)


def test_a_worker_that_never_used_the_locator_still_reports_its_figures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_uses="""
            from worker_locator import get_locator

            def test_uses():
                get_locator().register("x", object)
                get_locator().get("x")
        """,
        test_plain="""
            def test_plain():
                pass
        """,
    )
    result = pytester.runpytest_subprocess("-n", "2", "--dist", "loadfile", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*worker-locator*"])
    result.stdout.re_match_lines([r"gw\d: 0 constructions, 0 misses, 0 evictions, 0 resets"])
    result.stdout.re_match_lines([r"gw\d: 1 constructions, 1 misses, 0 evictions, 1 resets"])
    result.stdout.no_fnmatch_line("*did not finish*")


def test_the_test_that_first_created_the_locator_is_named_in_a_later_failure_report(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        from worker_locator import get_locator

        def test_1_first_use_leaves_a_registration():
            get_locator().register("region", lambda: "us")

        def test_2_expects_its_own_region():
            assert get_locator().get("region") == "eu"
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:randomly", "-o", "locator_isolation=session")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*worker-locator: the tests before this one*",
            "*#1 test_the_test_that_first_created*::test_1_first_use_leaves_a_registration",
            "*registered 'region', which this test looked up",
        ]
    )
