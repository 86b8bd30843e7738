"""`override`: the value reaches cached dependents, and the exact previous state returns on exit."""

from __future__ import annotations

import functools
import gc
import threading

import pytest

from tests.unit.helpers import Resource
from worker_locator import ServiceLocator, ServiceNotRegisteredError


@pytest.fixture(name="wired")
def _wired(locator: ServiceLocator) -> ServiceLocator:
    """A locator with region <- greeting <- page, all cached."""
    locator.register("region", lambda: "eu")
    locator.register("greeting", lambda: Resource(f"hello from {locator.get('region')}"))
    locator.register("page", lambda: Resource(f"<p>{locator.get('greeting').name}</p>"))
    locator.register("unrelated", lambda: Resource("unrelated"))
    locator.get("page")
    locator.get("unrelated")
    return locator


def test_inside_the_block_get_returns_the_value(wired: ServiceLocator) -> None:
    with wired.override("region", "us") as value:
        assert value == "us"
        assert wired.get("region") == "us"
    assert wired.get("region") == "eu"


def test_cached_dependents_are_rebuilt_inside_and_the_same_objects_return_after(
    wired: ServiceLocator,
) -> None:
    greeting, page, unrelated = wired.get("greeting"), wired.get("page"), wired.get("unrelated")
    with wired.override("region", "us"):
        assert wired.get("greeting").name == "hello from us"
        assert wired.get("page").name == "<p>hello from us</p>"
        assert wired.get("unrelated") is unrelated, "services that do not depend on the key are not rebuilt"
    assert wired.get("greeting") is greeting
    assert wired.get("page") is page
    assert not greeting.closed
    assert not page.closed


def test_a_dependency_that_was_already_cached_when_the_dependent_was_built_is_tracked(
    locator: ServiceLocator,
) -> None:
    locator.register("region", lambda: "eu")
    locator.get("region")  # cached first: the dependent's lookup of it is a cache hit...
    locator.get("region")  # ...on the lock-free fast path, which a running factory must not use
    locator.register("greeting", lambda: f"hello from {locator.get('region')}")
    locator.get("greeting")
    with locator.override("region", "us"):
        assert locator.get("greeting") == "hello from us"


def test_what_was_built_inside_is_closed_on_exit_but_not_the_value(wired: ServiceLocator) -> None:
    replacement = Resource("fake greeting")
    with wired.override("greeting", replacement):
        page_inside = wired.get("page")
        assert page_inside.name == "<p>fake greeting</p>"
    assert page_inside.closed
    assert not replacement.closed


def test_state_is_restored_when_the_block_raises(wired: ServiceLocator) -> None:
    page = wired.get("page")
    error = ValueError("boom")

    def body() -> None:
        with wired.override("region", "us"):
            wired.get("page")
            raise error

    with pytest.raises(ValueError, match="boom") as caught:
        body()
    assert caught.value is error
    assert wired.get("page") is page
    assert wired.get("region") == "eu"


def test_overrides_nest_and_each_exit_restores_its_own_entry_state(wired: ServiceLocator) -> None:
    with wired.override("region", "us"):
        with wired.override("region", "jp"):
            assert wired.get("greeting").name == "hello from jp"
        assert wired.get("greeting").name == "hello from us"
        with wired.override("greeting", Resource("hi")):
            assert wired.get("page").name == "<p>hi</p>"
        assert wired.get("page").name == "<p>hello from us</p>"
    assert wired.get("page").name == "<p>hello from eu</p>"


def test_exiting_out_of_order_is_an_error_that_still_restores_the_outer_state(wired: ServiceLocator) -> None:
    page = wired.get("page")
    outer = wired.override("region", "us")
    inner = wired.override("greeting", Resource("x"))
    outer.__enter__()
    inner.__enter__()
    with pytest.raises(RuntimeError, match="reverse order they were entered; 1 inner block"):
        outer.__exit__(None, None, None)
    assert wired.get("region") == "eu"
    assert wired.get("page") is page
    inner.__exit__(None, None, None)  # already discarded: nothing happens
    assert wired.get("page") is page


def test_an_unregistered_key_can_be_overridden_and_is_unknown_again_after(locator: ServiceLocator) -> None:
    with locator.override("feature_flag", value=True):
        assert locator.get("feature_flag") is True
    with pytest.raises(ServiceNotRegisteredError):
        locator.get("feature_flag")


def test_registrations_made_inside_the_block_stay(wired: ServiceLocator) -> None:
    with wired.override("region", "us"):
        wired.register("extra", lambda: "extra")
        wired.register("unrelated", lambda: Resource("replaced inside"))
    assert wired.get("extra") == "extra"
    assert wired.get("unrelated").name == "replaced inside"
    assert wired.get("region") == "eu"


def test_leaving_a_block_undoes_only_its_override_not_what_other_threads_did_meanwhile(
    wired: ServiceLocator,
) -> None:
    other = threading.Thread(
        target=lambda: (
            wired.register("job", lambda: Resource("job")),
            wired.register("queue", lambda: Resource(f"queue for {wired.get('job').name}")),
            wired.get("queue"),
        )
    )
    with wired.override("region", "us"):
        greeting_inside = wired.get("greeting")
        other.start()
        other.join(60)
    queue = wired.get("queue")
    assert queue.name == "queue for job", "the other thread's registrations survive the exit"
    assert not queue.closed, "and what it built from other keys is neither closed nor dropped"
    assert wired.get("job") is wired.get("job")
    assert greeting_inside.closed, "what was built from the overridden key is closed"
    assert wired.get("greeting").name == "hello from eu"


def test_services_built_inside_the_block_from_other_keys_stay_cached(wired: ServiceLocator) -> None:
    wired.register("late", lambda: Resource("late"))
    with wired.override("region", "us"):
        late = wired.get("late")
    assert not late.closed
    assert wired.get("late") is late


def test_a_key_registered_again_inside_the_block_keeps_the_new_registration(wired: ServiceLocator) -> None:
    with wired.override("region", "us"):
        wired.register("region", lambda: "jp")
    assert wired.get("region") == "jp"
    assert wired.get("greeting").name == "hello from jp"


class _Counted(Resource):
    """A resource that counts its closes and refuses to be used once closed."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.closes = 0

    def close(self) -> None:
        self.closes += 1
        super().close()


def test_nested_blocks_under_eviction_never_hand_out_a_closed_service_nor_close_one_twice() -> None:
    locator = ServiceLocator(max_cached=3)
    built: list[_Counted] = []

    def build(name: str) -> _Counted:
        built.append(_Counted(name))
        return built[-1]

    for name in "abcde":
        locator.register(name, functools.partial(build, name))
    with locator.override("x", "outer"):
        a = locator.get("a")
        with locator.override("y", "inner"):
            for name in "bcde":  # evicts a, built inside the outer block only
                locator.get(name)
        assert a.closed
        assert locator.get("a") is not a, "a closed service is never handed out again"
        assert not locator.get("a").closed
    assert all(service.closes <= 1 for service in built), [(s.name, s.closes) for s in built]
    locator.close()
    assert all(service.closes == 1 for service in built)


def test_a_service_set_aside_whose_dependency_was_evicted_meanwhile_is_not_handed_out() -> None:
    locator = ServiceLocator(max_cached=2)
    locator.register("region", lambda: "eu")
    locator.register("template", lambda: Resource("template"))
    locator.register("page", lambda: Resource(f"{locator.get('template').name} in {locator.get('region')}"))
    locator.register("other", lambda: Resource("other"))
    page = locator.get("page")
    with locator.override("region", "us"):
        locator.get("other")  # evicts template, which page was built from
        locator.get("other")
    assert page.closed, "it was built from a service that is closed now"
    rebuilt = locator.get("page")
    assert rebuilt is not page
    assert not locator.get("template").closed


def test_other_threads_see_the_override(wired: ServiceLocator) -> None:
    seen: list[str] = []
    with wired.override("region", "us"):
        thread = threading.Thread(target=lambda: seen.append(wired.get("greeting").name))
        thread.start()
        thread.join(30)
    assert seen == ["hello from us"]


def test_close_inside_a_block_is_refused(wired: ServiceLocator) -> None:
    with wired.override("region", "us"), pytest.raises(RuntimeError, match="leave the block first"):
        wired.close()


def test_failures_closing_inside_built_services_are_grouped_on_a_clean_exit(locator: ServiceLocator) -> None:
    class Broken:
        def close(self) -> None:
            msg = "cannot close"
            raise OSError(msg)

    locator.register("broken", lambda: (locator.get("x"), Broken())[1])
    with pytest.raises(ExceptionGroup) as caught, locator.override("x", 1):
        locator.get("broken")
    assert caught.group_contains(OSError, match="cannot close")


def test_failures_closing_inside_built_services_become_notes_when_the_block_raises(
    locator: ServiceLocator,
) -> None:
    class Broken:
        def close(self) -> None:
            msg = "cannot close"
            raise OSError(msg)

    locator.register("broken", lambda: (locator.get("x"), Broken())[1])

    def body() -> None:
        with locator.override("x", 1):
            locator.get("broken")
            raise KeyError("body")

    with pytest.raises(KeyError) as caught:
        body()
    assert any("cannot close" in note for note in caught.value.__notes__)


def test_a_block_entered_and_dropped_unexited_stays_in_force(locator: ServiceLocator) -> None:
    locator.register("region", lambda: "eu")
    locator.override("region", "us").__enter__()  # the block object is dropped at once
    gc.collect()
    assert locator.get("region") == "us", "garbage collection never exits a block behind your back"
    locator.restore(locator.checkpoint())


def test_a_block_cannot_be_entered_twice_while_open(locator: ServiceLocator) -> None:
    block = locator.override("region", "us")
    with block, pytest.raises(RuntimeError, match="override\\('region'\\) is already open"):
        block.__enter__()


def test_an_error_of_get_is_not_chained_to_the_cache_miss(locator: ServiceLocator) -> None:
    with pytest.raises(ServiceNotRegisteredError) as caught:
        locator.get("missing")
    assert caught.value.__context__ is None
