"""Per-test isolation of the default locator, in real pytest runs made with pytester."""

from __future__ import annotations

import textwrap

import pytest

from worker_locator import get_locator

# Shared by the generated conftest and tests: what the baseline is, and what tests built.
STATE = """
    from worker_locator import get_locator

    BASELINE = get_locator()
    BUILT = []          # every Tracked instance built in this process
    EXPENSIVE_SEEN = []  # every Expensive instance handed out in this process
    RESETS = []          # one entry per reset_locator() a test made
    DANGLING = []        # override() blocks entered and never exited (referenced, so never collected)


    class Tracked:
        def __init__(self):
            self.closed = False
            self.items = []
            BUILT.append(self)

        def close(self):
            self.closed = True


    class Expensive:
        def __init__(self):
            self.closed = False

        def close(self):
            self.closed = True


    def connection():
        conn = Tracked()
        yield conn
        conn.close()
"""

CONFTEST = """
    import state

    locator = state.BASELINE
    locator.register("region", lambda: "eu")
    locator.register(state.Tracked, state.Tracked)
    locator.register("connection", state.connection)
    locator.register("greeting", lambda: f"hello from {locator.get('region')}")
    locator.register(state.Expensive, state.Expensive, keep_between_tests=True)
    state.BASELINE_KEYS = locator.registered()
"""

# Each test checks that it starts from the baseline, then leaves one kind of mess behind.
LEAKY_TESTS = """
    import pytest
    import state
    from worker_locator import get_locator, reset_locator

    KINDS = ["register", "override", "mutate", "reset_locator", "override_service", "everything"]


    def check_clean():
        locator = get_locator()
        assert locator is state.BASELINE, "reset_locator() in an earlier test leaked"
        assert locator.registered() == state.BASELINE_KEYS
        assert locator.get("region") == "eu"
        assert locator.get("greeting") == "hello from eu"
        tracked = locator.get(state.Tracked)
        assert tracked.items == [], "an instance an earlier test mutated leaked"
        connection = locator.get("connection")
        earlier = [t for t in state.BUILT if t is not tracked and t is not connection]
        assert all(t.closed for t in earlier), "a service an earlier test built was not closed"
        expensive = locator.get(state.Expensive)
        assert not expensive.closed
        state.EXPENSIVE_SEEN.append(expensive)
        # kept between tests: rebuilt only after a reset_locator(), which closes the old locator
        assert len({id(e) for e in state.EXPENSIVE_SEEN}) <= 1 + len(state.RESETS)


    @pytest.mark.parametrize("n", range(12))
    def test_leaves_state_behind(n, override_service):
        check_clean()
        kind = KINDS[n % len(KINDS)]
        locator = get_locator()
        if kind == "register":
            locator.register("region", lambda: "us")
            locator.register("extra", object)
            assert locator.get("greeting") == "hello from us"
        elif kind == "override":
            block = locator.override("region", "mars")
            block.__enter__()  # never exited
            state.DANGLING.append(block)
            assert locator.get("greeting") == "hello from mars"
        elif kind == "mutate":
            locator.get(state.Tracked).items.append(n)
            locator.get("connection").items.append(n)
        elif kind == "reset_locator":
            state.RESETS.append(n)
            reset_locator().register("region", lambda: "us")
        elif kind == "override_service":
            assert override_service("region", "moon") == "moon"
            assert locator.get("greeting") == "hello from moon"
        else:
            state.RESETS.append(n)
            new = reset_locator()
            new.register(state.Tracked, state.Tracked)
            new.get(state.Tracked).items.append(n)
            block = new.override("region", "venus")
            block.__enter__()  # never exited, on the new locator
            state.DANGLING.append(block)
            override_service("greeting", "hi")  # on the baseline locator the fixture was given
"""


@pytest.fixture
def leaky_suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(state=textwrap.dedent(STATE))
    pytester.makeconftest(textwrap.dedent(CONFTEST))
    pytester.makepyfile(test_leaky=textwrap.dedent(LEAKY_TESTS))
    return pytester


def test_leftovers_never_reach_the_next_test(leaky_suite: pytest.Pytester) -> None:
    result = leaky_suite.runpytest_inprocess("-n", "0", "-p", "no:randomly")
    result.assert_outcomes(passed=12)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_leftovers_never_reach_the_next_test_in_random_order(leaky_suite: pytest.Pytester, seed: int) -> None:
    result = leaky_suite.runpytest_inprocess("-p", "randomly", f"--randomly-seed={seed}")
    result.stdout.fnmatch_lines([f"Using --randomly-seed={seed}"])
    result.assert_outcomes(passed=12)


def test_leftovers_never_reach_the_next_test_under_xdist(leaky_suite: pytest.Pytester) -> None:
    result = leaky_suite.runpytest_subprocess("-n", "4", "-p", "randomly", "--randomly-seed=7")
    result.stdout.fnmatch_lines(["*created: 4/4 workers*"])
    result.assert_outcomes(passed=12)


def test_without_isolation_the_same_suite_fails(leaky_suite: pytest.Pytester) -> None:
    # The checks above can fail: with the resets off, the leftovers reach later tests.
    result = leaky_suite.runpytest_inprocess("-p", "no:randomly", "-o", "locator_isolation=none")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed", 0) >= 5
    result.stdout.fnmatch_lines(["*reset_locator() in an earlier test leaked*"])


def test_a_test_that_calls_reset_locator_is_undone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        textwrap.dedent(
            """
            from worker_locator import get_locator, reset_locator

            BASELINE = get_locator()
            BASELINE.register("region", lambda: "eu")
            STRAY = []


            class Service:
                closed = False

                def close(self):
                    self.closed = True


            def test_1_replaces_the_default_locator():
                new = reset_locator()
                new.register(Service, Service)
                STRAY.append((new, new.get(Service)))
                assert get_locator() is new


            def test_2_gets_the_baseline_locator_back():
                stray, service = STRAY[0]
                assert get_locator() is BASELINE
                assert get_locator().get("region") == "eu"
                assert service.closed, "what the test built on its own locator is closed"
                assert stray.registered() == frozenset()
            """
        )
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=2)


@pytest.mark.parametrize("scope", ["test", "module", "session", "none"])
def test_the_isolation_unit_follows_the_ini_option(pytester: pytest.Pytester, scope: str) -> None:
    pytester.makeini(f"[pytest]\nlocator_isolation = {scope}\n")
    pytester.makepyfile(
        test_m1="""
            from worker_locator import get_locator

            def test_a():
                get_locator().register("from_m1", lambda: 1)

            def test_b(request):
                scope = request.config.getini("locator_isolation")
                assert ("from_m1" in get_locator().registered()) == (scope != "test")
        """,
        test_m2="""
            from worker_locator import get_locator

            def test_c(request):
                scope = request.config.getini("locator_isolation")
                assert ("from_m1" in get_locator().registered()) == (scope in ("session", "none"))
        """,
    )
    pytester.runpytest_inprocess("-p", "no:randomly").assert_outcomes(passed=3)


@pytest.mark.parametrize(
    "runner",
    ["in process", "subprocess", "subprocess under xdist"],
)
def test_registrations_of_wider_fixtures_last_as_long_as_the_fixture(
    pytester: pytest.Pytester, runner: str
) -> None:
    # In process, the default locator exists before the run starts (this process's own, created
    # below if no earlier test did); in a subprocess, the session fixture creates it, and the
    # plugin, dormant until then, wakes up inside that fixture's set-up.
    pytester.makeconftest(
        """
        import pytest
        from worker_locator import get_locator

        @pytest.fixture(scope="session")
        def session_services():
            get_locator().register("session_value", lambda: "s")

        @pytest.fixture(scope="module")
        def module_services():
            get_locator().register("module_value", lambda: "m")

        @pytest.fixture
        def test_services():
            get_locator().register("test_value", lambda: "t")
        """
    )
    pytester.makepyfile(
        test_f1="""
            from worker_locator import get_locator

            def registered():
                return get_locator().registered()

            def test_1(session_services, module_services, test_services):
                assert {"session_value", "module_value", "test_value"} <= registered()
                get_locator().register("by_test_1", lambda: 1)

            def test_2(session_services, module_services):
                assert {"session_value", "module_value"} <= registered()
                assert "test_value" not in registered()
                assert "by_test_1" not in registered()

            def test_3():
                assert {"session_value", "module_value"} <= registered()
        """,
        test_f2="""
            from worker_locator import get_locator

            def test_4(session_services):
                assert "session_value" in get_locator().registered()
                assert "module_value" not in get_locator().registered()
        """,
    )
    if runner == "in process":
        get_locator()
        result = pytester.runpytest_inprocess("-p", "no:randomly")
    elif runner == "subprocess":
        result = pytester.runpytest_subprocess("-p", "no:randomly")
    else:  # loadfile keeps each file on one worker, where its session and module fixtures are set up
        result = pytester.runpytest_subprocess("-p", "no:randomly", "-n", "2", "--dist", "loadfile")
    result.assert_outcomes(passed=4)


def test_closing_failures_are_a_teardown_error_of_the_test(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from worker_locator import get_locator

        class Broken:
            def close(self):
                raise OSError("disk gone")

        def test_builds_a_broken_service():
            get_locator().register(Broken, Broken)
            get_locator().get(Broken)

        def test_next_one_starts_clean():
            assert Broken not in get_locator().registered()
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_builds_a_broken_service*", "*disk gone*"])


@pytest.mark.parametrize("value", ["sometimes", "Test", ""])
def test_a_bad_isolation_value_is_a_one_line_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makeini(f"[pytest]\nlocator_isolation = {value}\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    lines = [line for line in result.stderr.lines if "locator_isolation" in line]
    assert lines == [
        f"ERROR: locator_isolation = {value!r} is not valid; use one of: test, module, session, none"
    ]
    assert "Traceback" not in result.stderr.str()


def test_the_plugin_works_without_xdist(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from worker_locator import get_locator

        def test_1():
            get_locator().register("leak", object)

        def test_2(service_locator):
            assert "leak" not in service_locator.registered()
        """
    )
    pytester.runpytest_inprocess("-p", "no:xdist", "-p", "no:randomly").assert_outcomes(passed=2)


def test_disabling_the_plugin_removes_isolation_and_fixtures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        from worker_locator import get_locator

        def test_1():
            get_locator().register("leak", object)

        def test_2():
            assert "leak" in get_locator().registered()

        def test_3(service_locator):
            pass
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:worker_locator", "-p", "no:randomly")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*fixture 'service_locator' not found*"])
