"""Cleanup: close order, grouped failures, clear_cache, the default locator and interpreter exit."""

from __future__ import annotations

import functools
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

from worker_locator import ServiceLocator, get_locator, reset_locator


class Recorder:
    def __init__(self, name: str, log: list[str], *, fail: bool = False) -> None:
        self.name, self.log, self.fail = name, log, fail

    def close(self) -> None:
        self.log.append(self.name)
        if self.fail:
            msg = f"{self.name} refused to close"
            raise OSError(msg)


def test_close_runs_in_reverse_creation_order(locator: ServiceLocator) -> None:
    log: list[str] = []
    locator.register("config", lambda: Recorder("config", log))
    locator.register("db", lambda: (locator.get("config"), Recorder("db", log))[1])
    locator.register("repo", lambda: (locator.get("db"), Recorder("repo", log))[1])
    locator.get("repo")
    locator.close()
    assert log == ["repo", "db", "config"]


def test_close_mixes_generators_and_close_methods_in_one_order(locator: ServiceLocator) -> None:
    log: list[str] = []

    def session() -> Iterator[str]:
        yield "session"
        log.append("session")

    locator.register("first", lambda: Recorder("first", log))
    locator.register("session", session)
    locator.register("last", lambda: Recorder("last", log))
    for key in ("first", "session", "last"):
        locator.get(key)
    locator.close()
    assert log == ["last", "session", "first"]


def test_close_attempts_every_service_then_raises_a_group(locator: ServiceLocator) -> None:
    log: list[str] = []
    for name, fail in (("a", True), ("b", False), ("c", True)):
        locator.register(name, functools.partial(Recorder, name, log, fail=fail))
        locator.get(name)
    with pytest.raises(ExceptionGroup, match="2 of 3 services failed to close") as caught:
        locator.close()
    assert log == ["c", "b", "a"]
    assert [str(e) for e in caught.value.exceptions] == ["c refused to close", "a refused to close"]
    assert "while closing Recorder" in caught.value.exceptions[0].__notes__[0]
    assert locator.stats()["cached"] == 0


def test_services_without_close_are_simply_dropped(locator: ServiceLocator) -> None:
    locator.register("plain", object)
    locator.get("plain")
    locator.close()
    assert locator.stats()["cached"] == 0


def test_the_locator_is_usable_after_close(locator: ServiceLocator) -> None:
    log: list[str] = []
    locator.register("db", lambda: Recorder("db", log))
    first = locator.get("db")
    locator.close()
    assert locator.get("db") is not first


def test_clear_cache_drops_without_closing(locator: ServiceLocator) -> None:
    log: list[str] = []
    locator.register("db", lambda: Recorder("db", log))
    first = locator.get("db")
    locator.clear_cache()
    assert log == []
    assert locator.get("db") is not first
    assert "db" in locator.registered()


def test_reset_locator_installs_a_new_default_and_closes_the_old() -> None:
    log: list[str] = []
    old = get_locator()
    old.register("db", lambda: Recorder("db", log))
    old.get("db")
    new = reset_locator()
    assert get_locator() is new is not old
    assert log == ["db"]
    assert "db" not in new.registered()


def test_reset_locator_installs_the_new_one_even_if_closing_the_old_fails() -> None:
    log: list[str] = []
    old = reset_locator()
    old.register("db", lambda: Recorder("db", log, fail=True))
    old.get("db")
    with pytest.raises(ExceptionGroup):
        reset_locator()
    assert get_locator() is not old


def _run_python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - runs this interpreter on code written in this file
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_default_locator_is_closed_at_interpreter_exit() -> None:
    result = _run_python(
        """
        from worker_locator import get_locator

        class Service:
            def close(self):
                print("closed at exit", flush=True)

        get_locator().register(Service, Service)
        get_locator().get(Service)
        print("end of program", flush=True)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["end of program", "closed at exit"]


def test_an_unreferenced_locator_is_not_closed_at_exit_by_a_hook_that_keeps_it_alive() -> None:
    result = _run_python(
        """
        import gc, weakref
        from worker_locator import ServiceLocator

        class Service:
            def close(self):
                print("closed", flush=True)

        locator = ServiceLocator()
        locator.register(Service, Service)
        locator.get(Service)
        ref = weakref.ref(locator)
        del locator
        gc.collect()
        print("collected" if ref() is None else "kept alive", flush=True)
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["collected"]
