"""Text from untrusted snapshots made safe to print: one line, and bounded in length."""

from __future__ import annotations

import re
from typing import Final

__all__ = ["ELLIPSIS", "elide", "natural_order", "one_line", "shown"]

ELLIPSIS: Final = "…"

_MESSAGE_WIDTH: Final = 200
"""How much of an untrusted value an error message quotes."""

_DIGITS: Final = re.compile(r"(\d+)")


def one_line(text: str) -> str:
    """Escape what would break a one-line message: newlines, control and format characters."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def elide(text: str, width: int) -> str:
    """Return `text` made printable and, if longer than `width`, with its middle replaced by `…`.

    The start and the end are kept, since both usually matter: a path's root
    and its file name, a key's module and its class.
    """
    if len(text) > 4 * width:  # escaping can at most quadruple a character; skip the middle first
        text = text[: 2 * width] + ELLIPSIS + text[-2 * width :]
    text = one_line(text)
    if len(text) <= width:
        return text
    tail = (width - 1) // 2
    head = width - 1 - tail
    return text[:head] + ELLIPSIS + (text[-tail:] if tail else "")


def shown(value: object, width: int = _MESSAGE_WIDTH) -> str:
    """Quote an untrusted value in an error message: its `repr`, elided to `width` characters."""
    if isinstance(value, str) and len(value) > 4 * width:
        value = value[: 2 * width] + value[-2 * width :]  # repr() of a 10 MB string costs 10 MB more
    return elide(repr(value), width)


def natural_order(text: str) -> tuple[str | tuple[int, str], ...]:
    """Return a sort key that orders the numbers inside `text` by value: `gw2` before `gw10`.

    `re.split` with a group alternates text and digits, so the parts at one position are always both
    text or both numbers and two keys always compare. A number is compared by its length, then its
    digits, never converted to `int`: a worker id from an untrusted snapshot may hold 100,000 digits.
    """
    parts = _DIGITS.split(text)
    return tuple((len(p.lstrip("0")), p.lstrip("0")) if i % 2 else p for i, p in enumerate(parts))
