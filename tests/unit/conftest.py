"""Fixtures of the unit tests: a forked-child runner and a line-echo server on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.forking import run_in_fork
from tests.unit.helpers import ChildRunner, LineHandler, LineServer


@pytest.fixture(name="in_forked_child")
def _in_forked_child() -> ChildRunner:
    """Return a function that runs a callable in a real `os.fork()` child and returns its JSON result."""
    return run_in_fork


@pytest.fixture(name="line_server")
def _line_server() -> Iterator[tuple[str, int]]:
    """Serve the line-echo protocol on 127.0.0.1, on a port the OS picks, for this test only."""
    server = LineServer(("127.0.0.1", 0), LineHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    yield str(host), int(port)
    server.shutdown()
    server.server_close()
    thread.join()
