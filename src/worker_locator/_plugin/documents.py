"""Sybil documents as pytest items: recognising them, keeping each one's examples together, reporting them."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import pytest

__all__ = ["file_of", "guard_traceback_filters", "is_sybil", "keep_sybil_documents_together"]


def is_sybil(node: pytest.Item) -> bool:
    module = type(node).__module__
    return module == "sybil" or module.startswith("sybil.")


def file_of(item: pytest.Item) -> object:
    node = item.parent
    while node is not None and not isinstance(node, pytest.File):
        node = node.parent
    return node if node is not None else item.path


def keep_sybil_documents_together(items: list[pytest.Item]) -> None:
    """Put each Sybil document's examples next to each other, in source order.

    pytest-randomly shuffles Sybil's examples one by one, since they belong to
    no module, and an example that uses an earlier one's names then fails. Each
    document moves to where its first example landed, so a seed still changes
    which document runs first; other tests keep their order. The plugin does
    this itself; call it from a `pytest_collection_modifyitems` hook when the
    plugin is turned off.

    Args:
        items: The session's items, reordered in place.
    """
    documents: dict[int, list[pytest.Item]] = {}
    for item in items:
        if is_sybil(item):
            documents.setdefault(id(item.parent), []).append(item)
    if not documents:
        return
    reordered: list[pytest.Item] = []
    for item in items:
        if not is_sybil(item):
            reordered.append(item)
            continue
        examples = documents.pop(id(item.parent), None)
        if examples is not None:
            reordered.extend(sorted(examples, key=_source_position))
    items[:] = reordered


def _source_position(item: pytest.Item) -> int:
    region = getattr(getattr(item, "example", None), "region", None)
    return int(getattr(region, "start", 0))


def guard_traceback_filters(items: list[pytest.Item]) -> None:
    """Keep a failing example's report from becoming an INTERNALERROR that ends the session.

    Sybil 10.1's `SybilItem._traceback_filter` reads the second entry of every
    traceback it filters, and pytest also filters the tracebacks of an
    exception's context and of an exception group's members. One of those
    with a single entry (an exception raised and caught in the example's own
    frame, or pytest's group of unraisable-exception warnings) raises
    `IndexError` while the report is made: the session stops and the failing
    example is never named. Guarded, that traceback is shown unfiltered.

    Args:
        items: The session's items; Sybil's get the guard, others are left alone.
    """
    for item in items:
        original = getattr(item, "_traceback_filter", None)
        if original is not None and is_sybil(item):
            item._traceback_filter = functools.partial(_filter_or_keep, original)  # type: ignore[method-assign]  # noqa: SLF001 - Sybil's hook into pytest's reports


def _filter_or_keep(original: Callable[[Any], Any], excinfo: pytest.ExceptionInfo[BaseException]) -> Any:
    try:
        return original(excinfo)
    except IndexError:
        return excinfo.traceback
