"""The pytest and pluggy versions the plugin supports, checked when pytest loads it."""

from __future__ import annotations

import re
from typing import Final

import pluggy
import pytest

__all__ = ["MINIMUM_PLUGGY", "MINIMUM_PYTEST", "refuse_unsupported_pytest"]

MINIMUM_PYTEST: Final = (7, 4)
"""The oldest pytest the plugin runs on; `pyproject.toml` declares the same in the `pytest` extra."""

MINIMUM_PLUGGY: Final = (1, 1)
"""The oldest pluggy with the `wrapper=True` hooks the plugin uses (pytest 7.4 accepts older ones)."""


def refuse_unsupported_pytest() -> None:
    """Stop pytest with one line, and no traceback, if its version or pluggy's is too old.

    Raises:
        pytest.UsageError: pytest or pluggy is older than the plugin supports;
            pytest prints the message as `ERROR: ...` and exits with 4.
    """
    for name, version, minimum in (
        ("pytest", pytest.__version__, MINIMUM_PYTEST),
        ("pluggy", pluggy.__version__, MINIMUM_PLUGGY),
    ):
        if _release(version) < minimum:
            wanted = ".".join(map(str, minimum))
            msg = (
                f"worker-locator's pytest plugin needs {name} {wanted} or newer, and this is {name}"
                f" {version[:40]}: upgrade it (pip install 'worker-locator[pytest]'),"
                " or turn the plugin off with -p no:worker_locator"
            )
            raise pytest.UsageError(msg)


def _release(version: str) -> tuple[int, int]:
    """The major and minor numbers of a version string; (0, 0) if it has none."""
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)
