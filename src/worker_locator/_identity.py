"""Who this process is: its worker id and a namespace for the external resources it creates."""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import socket
import warnings

from ._fork import fork_generation

__all__ = ["host_name", "resource_namespace", "worker_id"]

_SAFE_WORKER = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NOT_IDENTIFIER = re.compile(r"[^a-z0-9_]+")
_WORKER_PREFIX_MAX = 40

# A fresh random token per process, renewed in forked children: it makes names differ
# across runs even where no pytest-xdist run id exists (plain pytest, production).
_process_token: tuple[int, str] = (-1, "")


def worker_id() -> str:
    """Return this process's worker id: `PYTEST_XDIST_WORKER`, or `pid-<pid>` outside xdist.

    The environment is untrusted input: a value that is not a safe token
    (`[A-Za-z0-9_-]`, at most 64 characters) is ignored with a `RuntimeWarning`,
    so that a value such as `../../etc` never reaches a file name.

    Returns:
        `gw0`, `gw1`, ... in a pytest-xdist worker, else `pid-<pid>`.

    Examples:
        >>> import os, re
        >>> wid = worker_id()
        >>> wid == os.environ.get("PYTEST_XDIST_WORKER", f"pid-{os.getpid()}")
        True
        >>> bool(re.fullmatch(r"[A-Za-z0-9_-]{1,64}", wid))
        True
    """
    value = os.environ.get("PYTEST_XDIST_WORKER")
    if value is None or value == "":
        return f"pid-{os.getpid()}"
    if _SAFE_WORKER.fullmatch(value):
        return value
    fallback = f"pid-{os.getpid()}"
    warnings.warn(
        f"PYTEST_XDIST_WORKER={value[:80]!r} is not a safe token ([A-Za-z0-9_-], at most 64 characters);"
        f" using {fallback!r} instead",
        RuntimeWarning,
        stacklevel=2,
    )
    return fallback


def host_name() -> str:
    """Return this machine's host name, made safe to print, encode and store.

    The host name is untrusted input: bytes that are not UTF-8 (which Python
    hands over as surrogate escapes) and non-printable characters are shown as
    backslash escapes, and the result is cut to 255 characters, the longest a
    host name can be. Distinct raw names stay distinct.

    Examples:
        >>> host_name() == host_name() and host_name().isprintable()
        True
    """
    raw = socket.gethostname().encode("utf-8", "surrogateescape")[:255]
    text = raw.decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _run_token() -> str:
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if run:
        return "run:" + run
    global _process_token  # noqa: PLW0603 - one token per process, renewed after fork
    generation = fork_generation()
    if _process_token[0] != generation:
        _process_token = (generation, secrets.token_hex(8))
    return "process:" + _process_token[1]


def resource_namespace() -> str:
    """Return a name for the external resources this process creates.

    Use it in file names, sqlite and Postgres database names, schemas and temp
    directories. It is lower case, matches `[a-z0-9_]{1,63}` (so it is also a
    valid unquoted SQL identifier), is stable within a process, and differs
    across pytest-xdist workers, across runs (`PYTEST_XDIST_TESTRUNUID`, or a
    per-process token outside xdist), across hosts or CI shards and across
    forked children, which inherit `PYTEST_XDIST_WORKER` unchanged.

    Returns:
        The worker id made safe, then `_`, then 16 hex digits of a digest.

    Examples:
        >>> import re
        >>> name = resource_namespace()
        >>> bool(re.fullmatch(r"[a-z0-9_]{1,63}", name)), name == resource_namespace()
        (True, True)
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        wid = worker_id()
    digest = hashlib.blake2b(
        "\0".join((wid, _run_token(), host_name(), str(os.getpid()))).encode(),
        digest_size=8,
    ).hexdigest()
    prefix = _NOT_IDENTIFIER.sub("_", wid.lower())[:_WORKER_PREFIX_MAX]
    if not prefix[0].isalpha():
        prefix = "w" + prefix[: _WORKER_PREFIX_MAX - 1]
    return f"{prefix}_{digest}"
