"""A line-echo server for the fork suite: replies `reply-to:<line>`, ends a connection on `QUIT`.

Run as a script; it binds 127.0.0.1 port 0, prints the port on one line and
serves until it is terminated. It runs in a process of its own so that the
test processes that fork have no server threads.
"""

from __future__ import annotations

import socketserver
import sys


class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        for raw in self.rfile:
            line = raw.decode().strip()
            if line == "QUIT":  # a polite goodbye, as a database client's close() sends
                return
            self.wfile.write(f"reply-to:{line}\n".encode())


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True


def main() -> None:
    with _Server(("127.0.0.1", 0), _Handler) as server:
        sys.stdout.write(f"{server.server_address[1]}\n")
        sys.stdout.flush()
        server.serve_forever()


if __name__ == "__main__":
    main()
