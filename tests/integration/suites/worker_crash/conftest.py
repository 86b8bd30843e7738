"""A worker that crashes: the default locator keeps its services for the whole session here.

The harness sets `locator_isolation = session`, so a worker's cache persists
from one test to the next; a test that finds it empty is the first in a new
process.
"""

from __future__ import annotations

import os

from worker_locator import get_locator


class Service:
    """A service that remembers which process built it."""

    def __init__(self) -> None:
        self.owner_pid = os.getpid()


get_locator().register("service", Service)
