"""A worker-isolated service locator, and the tools to keep test suites isolated under pytest-xdist.

Everything public is importable from here; the underscore modules are private.
"""

from ._default import get_locator, reset_locator
from ._errors import CircularDependencyError, ServiceNotRegisteredError
from ._exclusive import ResourceBusyError, exclusive
from ._identity import resource_namespace, worker_id
from ._lazy import LazyProxy
from ._locator import Checkpoint, LocatorStats, ServiceLocator
from ._resources import ResourceHolder

__all__ = [
    "Checkpoint",
    "CircularDependencyError",
    "LazyProxy",
    "LocatorStats",
    "ResourceBusyError",
    "ResourceHolder",
    "ServiceLocator",
    "ServiceNotRegisteredError",
    "exclusive",
    "get_locator",
    "reset_locator",
    "resource_namespace",
    "worker_id",
]


def _report_public_module() -> None:
    """Make public objects name this module, so tracebacks and reprs never show private paths."""
    namespace = globals()
    for name in __all__:
        namespace[name].__module__ = __name__


_report_public_module()
