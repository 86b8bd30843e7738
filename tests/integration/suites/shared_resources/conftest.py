"""External resources shared by worker processes, and by concurrent runs: a sqlite file and a listening port.

Every worker opens both resources in a session fixture, then waits at a
barrier until every party (`WL_IT_PARTIES`: the workers of this run, or of
two runs started together) holds them, so that colliding names collide in
every run, not only when the timing happens to overlap. `WL_IT_NAMING` picks
the names:

- `fixed`: `app.db` in a shared folder and the port `WL_IT_PORT`;
- `worker_id`: `app-gw0.db` and `WL_IT_PORT + 0` for gw0, and so on: unique
  within one run, the same in two runs;
- `namespace`: `app-<worker_locator.resource_namespace()>.db` and port 0;
- `tmp_path`: `app.db` under `tmp_path_factory` and port 0.

`WL_IT_CACHE` picks the cache the services live in (`naive` or `locator`):
it makes no difference here, which is the point, since the collision is in
the names.
"""

from __future__ import annotations

import os
import socket
import sqlite3
from pathlib import Path

import pytest
from tests.integration.suite_support import Cache, choice, chosen_cache, directory, port, record, rendezvous

from worker_locator import resource_namespace

ROWS_PER_WORKER = 3


class Database:
    """A sqlite database that starts empty for its process, as a session fixture's database does."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connection = sqlite3.connect(path, timeout=60, isolation_level=None)
        self.connection.execute("CREATE TABLE IF NOT EXISTS items (owner TEXT)")
        self.connection.execute("DELETE FROM items")

    def add(self, owner: str) -> None:
        self.connection.execute("INSERT INTO items VALUES (?)", (owner,))

    def count(self) -> int:
        (rows,) = self.connection.execute("SELECT COUNT(*) FROM items").fetchone()
        return int(rows)

    def held_resources(self) -> list[str]:
        return [f"sqlite:{self.path}"]

    def close(self) -> None:
        self.connection.close()


class Listener:
    """A server socket listening on 127.0.0.1, held open for the whole session."""

    def __init__(self, wanted_port: int) -> None:
        self.socket = socket.socket()
        try:
            self.socket.bind(("127.0.0.1", wanted_port))
            self.socket.listen()
        except OSError:
            self.socket.close()
            raise
        self.port = int(self.socket.getsockname()[1])

    def round_trip(self) -> bytes:
        """Connect to the listener, accept, and pass one message through: proof the port is ours."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=10) as client:
            server_side, _ = self.socket.accept()
            with server_side:
                client.sendall(b"ping")
                return server_side.recv(4)

    def held_resources(self) -> list[str]:
        return [f"port:tcp:127.0.0.1:{self.port}"]

    def close(self) -> None:
        self.socket.close()


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "master")


def _names(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    naming = choice("WL_IT_NAMING", ("fixed", "worker_id", "namespace", "tmp_path"))
    shared = directory("WL_IT_SHARED_DIR")
    if naming == "fixed":
        return shared / "app.db", port()
    if naming == "worker_id":
        worker = _worker()
        index = int(worker.removeprefix("gw")) if worker.startswith("gw") else 0
        return shared / f"app-{worker}.db", port() + index
    if naming == "namespace":
        return shared / f"app-{resource_namespace()}.db", 0
    return tmp_path_factory.mktemp("db") / "app.db", 0


CACHE = chosen_cache()


@pytest.fixture
def cache() -> Cache:
    """Return the cache the suite was told to use."""
    return CACHE


@pytest.fixture
def rows_per_worker() -> int:
    """Return how many rows each process puts into its database."""
    return ROWS_PER_WORKER


@pytest.fixture(scope="session", autouse=True)
def open_errors(tmp_path_factory: pytest.TempPathFactory) -> dict[str, OSError]:
    """Open both resources in every process, wait until every party holds them; return what failed."""
    db_path, wanted_port = _names(tmp_path_factory)
    CACHE.register("db", lambda: Database(db_path), keep_between_tests=True)
    CACHE.register("listener", lambda: Listener(wanted_port), keep_between_tests=True)
    errors: dict[str, OSError] = {}
    for key in ("db", "listener"):
        try:
            CACHE.get(key)
        except OSError as exc:
            errors[key] = exc
    rendezvous("opened")
    if "db" not in errors:
        for _ in range(ROWS_PER_WORKER):
            CACHE.get("db").add(_worker())
    rendezvous("filled")
    record(
        {
            "kind": "opened",
            "db": str(db_path),
            "port": None if "listener" in errors else CACHE.get("listener").port,
            "errors": {key: str(exc) for key, exc in errors.items()},
        }
    )
    return errors
