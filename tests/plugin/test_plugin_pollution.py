"""A failing test's report names the earlier tests that touched what it used, and how to replay them."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from worker_locator import get_locator
from worker_locator._plugin.pollution import SECTION
from worker_locator._plugin.replay import MAX_INLINE

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")

KEPT = """
    from worker_locator import get_locator

    class Settings(dict):
        pass

    get_locator().register(Settings, Settings, keep_between_tests=True)
"""

KEPT_TESTS = """
    from conftest import Settings

    def test_builds(service_locator):
        assert "mode" not in service_locator.get(Settings)

    def test_plain():
        pass

    def test_pollutes(service_locator):
        service_locator.get(Settings)["mode"] = "debug"

    def test_victim(service_locator):
        assert service_locator.get(Settings).get("mode") is None
"""


def _section(output: str) -> str:
    """Return the plugin's section of the first failure in `output`."""
    title = re.escape(SECTION)
    match = re.search(rf"-+ {title} -+\n(.*?)(?=\n[=_-]{{5,}})", output, re.DOTALL)
    assert match, output
    return match.group(1)


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "no:randomly", "-p", "no:cacheprovider", *args)


def test_the_builder_and_the_tests_that_got_a_kept_service_are_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(KEPT)
    pytester.makepyfile(test_kept=KEPT_TESTS)
    result = _run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=3, failed=1)
    section = _section(result.stdout.str())
    assert re.fullmatch(
        r"pid-\d+ ran 3 tests before this one; these touched what\n"
        r"this test used through the locator:\n"
        r"  #1 test_kept.py::test_builds\n"
        r"      built the Settings this test got \(kept between tests\)\n"
        r"  #3 test_kept.py::test_pollutes\n"
        r"      got the same Settings this test got \(kept between tests\)\n"
        r"Replay pid-\d+'s order up to this test \(#4\) in one process:\n"
        r"  pytest -p no:xdist -p no:randomly \\\n"
        r"    test_kept.py::test_builds \\\n"
        r"    test_kept.py::test_plain \\\n"
        r"    test_kept.py::test_pollutes \\\n"
        r"    test_kept.py::test_victim",
        section,
    ), section


def test_a_registration_that_outlived_its_test_is_named(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlocator_isolation = module\n")
    pytester.makepyfile(
        test_module="""
        from worker_locator import get_locator

        def test_registers_greeting():
            get_locator().register("greeting", lambda: "bonjour")

        def test_registers_other():
            get_locator().register("other", lambda: "x")

        def test_victim(service_locator):
            assert service_locator.get("greeting") == "hello"
        """
    )
    result = _run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=2, failed=1)
    section = _section(result.stdout.str())
    assert (
        "  #1 test_module.py::test_registers_greeting\n      registered 'greeting', which this test looked up"
        in section
    )
    assert "test_registers_other" not in section.split("Replay")[0]


def test_an_override_left_open_and_a_missing_key_are_named(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlocator_isolation = none\n")
    pytester.makepyfile(
        test_module="""
        from worker_locator import get_locator

        get_locator().register("db", lambda: "real")

        def test_leaves_an_override_open():
            get_locator().override("db", "fake").__enter__()

        def test_victim(service_locator):
            assert service_locator.get("db") == "real"
        """
    )
    result = _run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=1, failed=1)
    assert "#1 test_module.py::test_leaves_an_override_open\n      left an override of 'db'" in _section(
        result.stdout.str()
    )


def test_a_shared_resource_and_an_exclusive_lock_are_named(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from worker_locator import get_locator

        class Database:
            def held_resources(self):
                return ["sqlite:/tmp/shop.db"]

        get_locator().register(Database, Database)
        """
    )
    pytester.makepyfile(
        test_shared="""
        from conftest import Database

        def test_writes_the_file(service_locator):
            service_locator.get(Database)

        def test_holds_the_port(exclusive_resource):
            exclusive_resource("port-8765")

        def test_unrelated(service_locator):
            service_locator.register("x", object)
            service_locator.get("x")

        def test_victim(service_locator, exclusive_resource):
            exclusive_resource("port-8765")
            service_locator.get(Database)
            assert False
        """
    )
    result = _run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=3, failed=1)
    section = _section(result.stdout.str())
    assert (
        "#1 test_shared.py::test_writes_the_file\n      held sqlite:/tmp/shop.db, as this test does"
        in section
    )
    assert (
        "#2 test_shared.py::test_holds_the_port\n      held exclusive:port-8765, as this test does" in section
    )
    assert "test_unrelated\n" not in section


@pytest.mark.parametrize("runner", ["in process", "subprocess"])
def test_nothing_earlier_touched_it(pytester: pytest.Pytester, runner: str) -> None:
    # In process, the default locator exists before the run (created here if no earlier test did);
    # in a subprocess, `test_fails` creates it, and the plugin, dormant until then, still counts
    # and replays `test_plain`.
    pytester.makepyfile(
        test_alone="""
        def test_plain():
            pass

        def test_fails(service_locator):
            service_locator.register("x", object)
            service_locator.get("x")
            assert False
        """
    )
    if runner == "in process":
        get_locator()
        result = _run(pytester, "-p", "no:xdist")
    else:
        result = pytester.runpytest_subprocess("-p", "no:randomly", "-p", "no:xdist")
    section = _section(result.stdout.str())
    assert section.startswith("pid-")
    assert (
        "ran 1 test before this one; none of them touched\nwhat this test used through the locator."
        in section
    )
    replay = section.split("in one process:\n", 1)[1]
    replayed = re.findall(r"test_alone\.py::\w+", replay)
    assert replayed == ["test_alone.py::test_plain", "test_alone.py::test_fails"]


def test_a_failure_in_a_suite_that_never_uses_the_locator_is_reported_as_without_the_plugin(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_a():\n    pass\n\ndef test_b():\n    assert False\n")
    with_plugin = _run(pytester, "-p", "no:xdist")
    without = _run(pytester, "-p", "no:xdist", "-p", "no:worker_locator")
    timing = re.compile(r" in \d+\.\d+s")
    lines = [timing.sub("", line) for line in with_plugin.outlines if not line.startswith("plugins:")]
    assert lines == [timing.sub("", line) for line in without.outlines if not line.startswith("plugins:")]


def _replay(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run a printed replay command with this interpreter, without the outer run's identity."""
    argv = shlex.split(command.replace("\\\n", " "))
    if argv[0] == "pytest":
        argv = [sys.executable, "-m", *argv]
    else:
        assert argv[0] == "python", command
        argv[0] = sys.executable
    env = {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}
    return subprocess.run(  # noqa: S603 - the command the plugin printed, which the test is about
        [*argv, "-p", "no:cacheprovider"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def _command(section: str) -> str:
    return section.split("in one process:\n", 1)[1].strip()


def test_a_long_order_goes_into_a_file_that_replays_the_failure(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(KEPT)
    plain = "\n".join(f"def test_plain_{n}():\n    pass\n" for n in range(MAX_INLINE + 2))
    pytester.makepyfile(test_first=plain, test_kept=KEPT_TESTS)
    result = _run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=MAX_INLINE + 5, failed=1)
    command = _command(_section(result.stdout.str()))
    if pytest.version_tuple >= (8, 2):
        assert re.fullmatch(r"pytest -p no:xdist -p no:randomly @/\S+\.args", command), command
    else:
        assert command.startswith("python -c "), command
    listed = Path(command.split("@")[-1] if "@" in command else shlex.split(command)[-1])
    node_ids = listed.read_text(encoding="utf-8").splitlines()
    assert node_ids[-4:] == [
        f"test_kept.py::{name}" for name in ("test_builds", "test_plain", "test_pollutes", "test_victim")
    ]
    assert len(node_ids) == MAX_INLINE + 6
    replayed = _replay(command, pytester.path)
    assert replayed.returncode == 1, replayed.stdout + replayed.stderr
    assert "FAILED test_kept.py::test_victim" in replayed.stdout
    assert f"{MAX_INLINE + 5} passed" in replayed.stdout


LEAKY = """
    import pytest
    from worker_locator import get_locator, reset_locator

    get_locator().register("db", lambda: "real")

    def test_registers():
        get_locator().register("extra", object)
        get_locator().register("more", object)

    def test_clean(service_locator, override_service):
        override_service("db", "fake")
        with service_locator.override("db", "other"):
            service_locator.get("db")

    def test_leaves_a_block_open():
        get_locator().override("db", "fake").__enter__()

    def test_replaces_the_locator():
        reset_locator()

    def test_fixture_registration(session_thing):
        pass

    @pytest.fixture(scope="session")
    def session_thing():
        get_locator().register("thing", object)
"""


def test_leftovers_are_not_reported_unless_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKY)
    result = _run(pytester, "-p", "no:xdist")
    result.assert_outcomes(passed=5)
    assert "left behind" not in result.stdout.str()


@pytest.mark.parametrize("option", [["--locator-leftovers"], ["-o", "locator_leftovers=true"]])
def test_leftovers_list_exactly_the_tests_that_left_state_behind(
    pytester: pytest.Pytester, option: list[str]
) -> None:
    pytester.makepyfile(test_leaky=LEAKY)
    result = _run(pytester, "-p", "no:xdist", *option)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(
        [
            "*= worker-locator: state left behind =*",
            "pid-* test_leaky.py::test_registers: 2 registrations ('extra', 'more')",
            "pid-* test_leaky.py::test_leaves_a_block_open: 1 override block left open ('db')",
            "pid-* test_leaky.py::test_replaces_the_locator: replaced the default locator",
        ],
        consecutive=True,
    )
    assert "test_clean" not in result.stdout.str()
    assert "test_fixture_registration" not in result.stdout.str()


def test_leftovers_say_so_when_no_test_left_anything(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(override_service):\n    override_service('a', object)\n")
    result = _run(pytester, "-p", "no:xdist", "--locator-leftovers")
    result.stdout.fnmatch_lines(
        ["*= worker-locator: state left behind =*", "no test left registrations, override blocks or a new*"]
    )


def test_leftovers_stay_silent_when_the_locator_is_unused(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x():\n    pass\n")
    result = _run(pytester, "-p", "no:xdist", "--locator-leftovers")
    assert not [
        line for line in result.outlines if "worker-locator" in line and not line.startswith("plugins:")
    ]


def test_leftovers_travel_from_the_workers(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_leaky=LEAKY)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:randomly", "--locator-leftovers")
    result.assert_outcomes(passed=5)
    lines = [line for line in result.outlines if re.match(r"gw\d test_leaky\.py::", line)]
    assert sorted(line.split(" ", 1)[1].split(": ", 1)[0] for line in lines) == [
        "test_leaky.py::test_leaves_a_block_open",
        "test_leaky.py::test_registers",
        "test_leaky.py::test_replaces_the_locator",
    ]


def test_a_cached_get_of_a_kept_service_is_slow_once_per_test_then_free(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(KEPT)
    pytester.makepyfile(
        test_bits="""
        from conftest import Settings
        from worker_locator import get_locator

        def test_builds():
            get_locator().get(Settings)

        def test_gets_it_again():
            fast = get_locator()._cache.fast
            assert Settings not in fast  # cleared as the test started: the next get takes the slow path
            get_locator().get(Settings)
            assert Settings in fast  # and every get after it is the lock-free lookup again
            assert get_locator()._hot is fast
        """
    )
    _run(pytester, "-p", "no:xdist").assert_outcomes(passed=2)
