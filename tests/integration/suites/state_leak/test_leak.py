"""Two polluters and two victims, in one file: under `--dist loadfile` they share a worker, in this order."""

from __future__ import annotations

from tests.integration.suite_support import Cache


def test_1_polluter_swaps_in_a_fake_region(cache: Cache) -> None:
    cache.register("region", lambda: "us")
    assert cache.get("region") == "us"


def test_2_polluter_fills_the_cart(cache: Cache) -> None:
    cache.get("cart").append("book")
    assert cache.get("cart") == ["book"]


def test_3_victim_expects_the_default_region(cache: Cache) -> None:
    assert cache.get("region") == "eu"


def test_4_victim_expects_an_empty_cart(cache: Cache) -> None:
    assert cache.get("cart") == []
