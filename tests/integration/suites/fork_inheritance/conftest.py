"""A cached connection inherited across fork: the cache is chosen by `WL_IT_CACHE` (`naive` or `locator`).

The service is a `Client`: one TCP connection to a line-echo server that runs
in a process of its own. A naive cache hands a forked child the parent's
connection; `worker_locator` drops what a child inherited (never closing it)
and builds the child its own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.suite_support import Cache, NaiveLocator, chosen_cache


class Client:
    """A connection-like service: one socket, read byte by byte so no process buffers another's reply."""

    def __init__(self, port: int) -> None:
        self.owner_pid = os.getpid()
        self.socket = socket.create_connection(("127.0.0.1", port), timeout=30)

    def send(self, text: str) -> None:
        self.socket.sendall(f"{text}\n".encode())

    def read_line(self) -> str:
        """Return the next line, or what came before the server closed the connection."""
        data = bytearray()
        while not data.endswith(b"\n"):
            chunk = self.socket.recv(1)
            if not chunk:
                break
            data += chunk
        return data.decode().strip()

    def request(self, text: str) -> str:
        self.send(text)
        return self.read_line()

    def close(self) -> None:
        """Say goodbye to the server, which ends the session, then close the socket."""
        try:
            self.send("QUIT")
        finally:
            self.socket.close()


CACHE = chosen_cache()


@pytest.fixture(scope="session")
def server_port() -> Iterator[int]:
    """Start the echo server in a process of its own; return its port."""
    script = Path(__file__).with_name("echo_server.py")
    with subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        try:
            yield port
        finally:
            server.terminate()


@pytest.fixture
def cache(server_port: int) -> Iterator[Cache]:
    """Return the chosen cache, with a fresh `Client` registered under "client" for this test."""
    CACHE.register("client", lambda: Client(server_port))
    yield CACHE
    if isinstance(CACHE, NaiveLocator):
        # No plugin resets the naive cache: close here, so that these tests fail for the fork alone
        # (a connection the test's child already ended cannot say goodbye).
        with contextlib.suppress(OSError):
            CACHE.close()
