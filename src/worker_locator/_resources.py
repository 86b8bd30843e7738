"""How a service declares the external resources it holds, for snapshots and diagnosis."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol, runtime_checkable

__all__ = ["ResourceHolder"]


@runtime_checkable
class ResourceHolder(Protocol):
    """A service that can name the external resources it holds.

    [`ServiceLocator.snapshot`][] records what [`held_resources`][] returns for each
    cached service, so that the diagnosis can find two workers or runs holding
    the same file, database or port. Name a resource as `kind:identifier`,
    for example `sqlite:/tmp/app.db`, `port:tcp:127.0.0.1:8765` or `dir:/srv/cache`.

    Examples:
        >>> class Store:
        ...     def held_resources(self):
        ...         return ["sqlite:/tmp/app.db"]
        >>> isinstance(Store(), ResourceHolder)
        True
    """

    def held_resources(self) -> Iterable[str]:
        """Return the names of the external resources this service holds."""
        ...  # pragma: no cover - a protocol method
