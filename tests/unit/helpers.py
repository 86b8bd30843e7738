"""Test helpers: running code in a real forked child, and a connection-like service with a server."""

from __future__ import annotations

import os
import socket
import socketserver
from collections.abc import Callable
from typing import Any

ChildRunner = Callable[[Callable[[], Any]], Any]


class Resource:
    """A named service that records whether it was closed."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.closed = False

    def close(self) -> None:
        self.closed = True


class LineServer(socketserver.ThreadingTCPServer):
    """A line-echo server on 127.0.0.1 that ends a connection on `QUIT`, as a database ends a session."""

    daemon_threads = True
    allow_reuse_address = True


class LineHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.decode().strip()
            if line == "QUIT":
                return
            self.wfile.write(f"reply-to:{line}\n".encode())


class Client:
    """A connection-like service: one socket to the line server, closed politely with `QUIT`."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.owner_pid = os.getpid()
        self.sock = socket.create_connection(address)
        self.file = self.sock.makefile("rw")

    def request(self, text: str) -> str:
        self.file.write(text + "\n")
        self.file.flush()
        return self.file.readline().strip()

    def close(self) -> None:
        try:
            self.file.write("QUIT\n")
            self.file.flush()
        finally:
            self.file.close()
            self.sock.close()
