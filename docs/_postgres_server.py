"""A throwaway PostgreSQL server for the pages that need a real one: initdb and pg_ctl in a temp directory.

`start()` creates a cluster in a new temporary directory and starts it listening
on a Unix socket in that directory only (no TCP port), so that concurrent runs
of the docs never meet. The server is stopped and its directory removed by
`Server.stop()`, and at interpreter exit if a page did not get that far.

PostgreSQL refuses to run as root. Run as root (as CI is), the cluster belongs
to the `postgres` user that Debian's package creates, else to `nobody`.
"""

# ruff: noqa: INP001 - imported by the pages' set-up blocks from docs/, not from a package

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

__all__ = ["Server", "find_binaries", "start"]

# Where Debian's `postgresql-NN` packages put the binaries: not on PATH.
_DEBIAN = Path("/usr/lib/postgresql")
_SOCKET_PATH_MAX = 100  # a Unix socket path is at most 107 bytes; `/.s.PGSQL.5432` is added
_USERS_FOR_ROOT = ("postgres", "nobody")
_TIMEOUT = 120  # seconds: a hang guard for initdb and pg_ctl on a loaded machine


@dataclass
class Server:
    """A running throwaway server: `url` reaches its `postgres` database as the superuser `postgres`."""

    directory: Path
    conninfo: str
    _pg_ctl: Path = field(repr=False)
    _user: pwd.struct_passwd | None = field(repr=False)
    _stopped: bool = field(default=False, repr=False)

    @property
    def url(self) -> str:
        """The server's `postgres` database as a libpq URL, for a `DATABASE_URL` variable."""
        return f"postgresql://postgres@/postgres?host={quote(str(self.directory), safe='')}"

    def stop(self) -> None:
        """Stop the server, dropping every connection, and remove its directory. Idempotent."""
        if self._stopped:
            return
        self._stopped = True
        try:
            if (self.directory / "data" / "postmaster.pid").exists():
                _run(self._user, self.directory, self._pg_ctl, "-D", "data", "-m", "fast", "-w", "stop")
        finally:
            shutil.rmtree(self.directory, ignore_errors=True)


def find_binaries() -> Path | None:
    """Return the directory of `initdb` and `pg_ctl`: PATH first, then Debian's newest version."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(found).resolve().parent
    versions = sorted(
        (p for p in _DEBIAN.glob("*/bin") if (p / "pg_ctl").is_file() and p.parent.name.isdigit()),
        key=lambda p: int(p.parent.name),
    )
    return versions[-1] if versions else None


def _server_user() -> pwd.struct_passwd | None:
    """Return the account to run the server as when this process is root, or None to run as itself."""
    if os.geteuid() != 0:
        return None
    for name in _USERS_FOR_ROOT:
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    msg = f"running as root, and none of the accounts {', '.join(_USERS_FOR_ROOT)} exists to run PostgreSQL"
    raise RuntimeError(msg)


def _run(user: pwd.struct_passwd | None, cwd: Path, *command: str | Path) -> None:
    result = subprocess.run(  # noqa: S603 - the PostgreSQL binaries, with fixed arguments
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
        check=False,
        user=None if user is None else user.pw_uid,
        group=None if user is None else user.pw_gid,
        extra_groups=None if user is None else [],
    )
    if result.returncode != 0:
        log = cwd / "server.log"
        tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
        msg = f"{Path(command[0]).name} failed ({result.returncode}): {result.stderr.strip()}\n{tail}"
        raise RuntimeError(msg)


def start() -> Server | None:
    """Start a throwaway server; return None where PostgreSQL is not installed.

    Raises:
        RuntimeError: PostgreSQL is installed but the server could not be started.
    """
    binaries = find_binaries()
    if binaries is None:
        return None
    user = _server_user()
    directory = Path(tempfile.mkdtemp(prefix="wl-pg-"))
    if len(str(directory)) > _SOCKET_PATH_MAX - len("/.s.PGSQL.5432"):
        directory.rmdir()
        directory = Path(tempfile.mkdtemp(prefix="wl-pg-", dir="/tmp"))
    if user is not None:
        os.chown(directory, user.pw_uid, user.pw_gid)
    server = Server(directory, f"host={directory} user=postgres dbname=postgres", binaries / "pg_ctl", user)
    atexit.register(server.stop)  # a page that fails half-way still leaves nothing running
    try:
        _run(
            user,
            directory,
            binaries / "initdb",
            "-D",
            "data",
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses='' -c unix_socket_directories='{directory}'"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        _run(
            user,
            directory,
            binaries / "pg_ctl",
            "-D",
            "data",
            "-l",
            "server.log",
            "-o",
            options,
            "-w",
            "start",
        )
    except BaseException:
        server.stop()
        raise
    return server
