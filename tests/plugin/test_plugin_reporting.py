"""The `-v` header, the per-worker summary and `--locator-snapshot`."""

from __future__ import annotations

import json
import re

import pytest

from worker_locator.diagnosis import load_snapshot

# Three constructions, four hits and two evictions in the process that runs it.
COUNTED = """
    from worker_locator import get_locator

    def test_counts():
        locator = get_locator()
        locator.register("a", object)
        locator.register("b", object)
        for _ in range(5):
            locator.get("a")
        locator.get("b")

    def test_evicts():
        locator = get_locator()
        for n in range(locator.max_cached + 2):
            locator.register(f"s{n}", object)
            locator.get(f"s{n}")
"""


class Service:
    pass


def test_summary_counts_constructions_misses_and_evictions(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(COUNTED)
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(
        ["*= worker-locator =*", "pid-*: 54 constructions, 54 misses, 2 evictions, 2 resets"],
        consecutive=True,
    )


def test_hits_are_counted_only_when_asked(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(COUNTED)
    result = pytester.runpytest_inprocess("-p", "no:randomly", "-o", "locator_count_hits=true")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["pid-*: 54 constructions, 54 misses, 4 hits, 2 evictions, 2 resets"])


@pytest.mark.parametrize(("option", "counted"), [([], False), (["-o", "locator_count_hits=true"], True)])
def test_cached_lookups_stay_on_the_fast_path_unless_hits_are_counted(
    pytester: pytest.Pytester, option: list[str], counted: bool
) -> None:
    pytester.makepyfile(
        f"""
        from worker_locator import get_locator

        def test_counting():
            assert get_locator().count_hits is {counted}
            assert (get_locator().stats()["hits"] is None) is {not counted}
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:randomly", *option)
    result.assert_outcomes(passed=1)


def test_quiet_hides_the_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(COUNTED)
    result = pytester.runpytest_inprocess("-q", "-p", "no:randomly")
    result.assert_outcomes(passed=2)
    assert "worker-locator" not in result.stdout.str()


def test_asking_for_the_fixture_is_using_the_locator(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(service_locator): pass")
    result = pytester.runpytest_inprocess("-p", "no:randomly")
    result.stdout.fnmatch_lines(
        ["*= worker-locator =*", "pid-*: 0 constructions, 0 misses, 0 evictions, 1 resets"], consecutive=True
    )


def test_a_snapshot_run_reports_even_when_nothing_was_built(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--locator-snapshot", "out")
    result.stdout.fnmatch_lines(
        ["*= worker-locator =*", "pid-*: 0 constructions, 0 misses, 0 evictions, 1 resets"]
    )


def test_xdist_summary_has_one_line_per_worker(
    pytester: pytest.Pytester, tmp_path_factory: pytest.TempPathFactory
) -> None:
    snapshots = tmp_path_factory.mktemp("snapshots")
    pytester.makepyfile(COUNTED)
    pytester.makepyfile(test_more="def test_1(): pass\ndef test_2(): pass\n")
    result = pytester.runpytest_subprocess("-n", "2", "-v", "--locator-snapshot", str(snapshots))
    result.assert_outcomes(passed=4)
    lines = [line for line in result.stdout.lines if re.match(r"gw\d \(pid", line)]
    assert len(lines) == 2, result.stdout.str()
    for worker, line in zip(("gw0", "gw1"), lines, strict=True):
        assert re.fullmatch(
            worker + r" \(pid \d+, resource namespace " + worker + r"_[0-9a-f]{16}\): "
            r"\d+ constructions, \d+ misses, \d+ evictions, \d+ resets",
            line,
        )
    totals = [re.search(r"(\d+) constructions, (\d+) misses, (\d+) evictions", line) for line in lines]
    assert sum(int(m.group(1)) for m in totals if m) == 54
    assert sum(int(m.group(2)) for m in totals if m) == 54
    assert sum(int(m.group(3)) for m in totals if m) == 2
    written = sorted(snapshots.iterdir())
    assert [p.suffix for p in written] == [".json", ".json"]
    assert {load_snapshot(p)["worker_id"] for p in written} == {"gw0", "gw1"}


def test_summary_works_with_xdist_disabled(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(COUNTED)
    result = pytester.runpytest_inprocess("-p", "no:xdist", "-p", "no:randomly")
    result.stdout.fnmatch_lines(["pid-*: 54 constructions, 54 misses, 2 evictions, 2 resets"])


SNAPSHOT_SUITE = """
    from worker_locator import get_locator

    class Database:
        def __init__(self):
            self.closed = False

        def close(self):
            self.closed = True

        def held_resources(self):
            return ["sqlite:/srv/shared.db"]

    get_locator().register(Database, Database)

    def test_uses_the_database():
        get_locator().get(Database)
        get_locator().get(Database)

    def test_again():
        get_locator().get(Database)
"""


def test_snapshot_lists_every_service_of_the_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SNAPSHOT_SUITE)
    target = pytester.path / "deep" / "snapshots"
    result = pytester.runpytest_inprocess("-p", "no:randomly", "--locator-snapshot", "deep/snapshots")
    result.assert_outcomes(passed=2)
    (written,) = target.iterdir()
    assert re.fullmatch(r"locator-pid_\d+_[0-9a-f]{16}-[0-9a-f]{12}\.json", written.name)
    snapshot = load_snapshot(written)
    # Both instances were closed by the resets; the snapshot still names the resource they held.
    (database,) = snapshot["services"]
    assert database["key"] == "Database"
    assert database["resources"] == ["sqlite:/srv/shared.db"]
    assert database["hits"] is None  # hits are counted only with locator_count_hits = true
    assert snapshot["stats"]["constructions"] == 2
    assert json.loads(written.read_text(encoding="utf-8")) == snapshot


def test_snapshot_names_never_collide(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(SNAPSHOT_SUITE)
    for _ in range(3):
        pytester.runpytest_inprocess("-p", "no:randomly", "--locator-snapshot", "out").assert_outcomes(
            passed=2
        )
    names = [p.name for p in (pytester.path / "out").iterdir()]
    assert len(names) == 3
    assert all(name.startswith("locator-") and name.endswith(".json") for name in names)


def test_snapshot_directory_that_is_a_file_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_x(): pass")
    (pytester.path / "taken").write_text("not a directory", encoding="utf-8")
    result = pytester.runpytest_inprocess("--locator-snapshot", "taken")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert [line for line in result.stderr.lines if "locator-snapshot" in line] == [
        "ERROR: --locator-snapshot 'taken' is not a directory; pass a directory (it is created if missing)"
    ]
