"""`LazyProxy`: an object that builds its target on first use."""

from __future__ import annotations

import copy
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, Generic, NoReturn, SupportsIndex, TypeVar, cast

from ._errors import key_name
from ._fork import quarantine, watch_forks

__all__ = ["LazyProxy"]

T = TypeVar("T")

_UNSET: Any = object()

# Targets a forked child inherited. They are quarantined for the child's lifetime, so
# that no finaliser of theirs runs there, even at shutdown: the parent still uses them.
_inherited_targets: list[object] = []


class LazyProxy(Generic[T]):
    """Stand in for an object that is built by `factory` on first attribute access.

    Creation is thread-safe and happens once; a factory that raises leaves
    nothing behind, so the next access tries again. `repr` never creates the
    target. A process forked after creation builds its own target instead of
    using the parent's, which it keeps referenced, so never finalises.
    Attribute access, assignment and deletion, calls, item access, `len`,
    `in`, iteration and `with` reach the target; other operators, `==` and
    `hash` apply to the proxy itself. `copy.copy` and `copy.deepcopy` copy
    the object it stands for; pickling is refused.

    Examples:
        >>> built = []
        >>> settings = LazyProxy(lambda: built.append(1) or {"region": "eu"})
        >>> settings
        <LazyProxy of <lambda>, not created>
        >>> built
        []
        >>> settings.get("region"), settings["region"], "region" in settings, built
        ('eu', 'eu', True, [1])
    """

    __slots__ = ("__weakref__", "_lazy_factory", "_lazy_lock", "_lazy_target")
    _lazy_factory: Callable[[], T]
    _lazy_lock: threading.Lock
    _lazy_target: Any

    def __init__(self, factory: Callable[[], T]) -> None:
        if not callable(cast("object", factory)):
            msg = f"LazyProxy needs a zero-argument callable, got {type(factory).__name__}"
            raise TypeError(msg)
        object.__setattr__(self, "_lazy_factory", factory)
        object.__setattr__(self, "_lazy_lock", threading.Lock())
        object.__setattr__(self, "_lazy_target", _UNSET)
        watch_forks(self)

    def _lazy_get(self) -> T:
        return _target_of(self)  # type: ignore[no-any-return]

    def _after_fork_in_child(self) -> None:
        if self._lazy_target is not _UNSET:
            _inherited_targets.extend(quarantine([self._lazy_target]))
        object.__setattr__(self, "_lazy_lock", threading.Lock())
        object.__setattr__(self, "_lazy_target", _UNSET)

    # Reaching the target costs one Python call. Where a lookup that falls through
    # to `__getattr__` raises and catches an AttributeError first (3.11), every
    # lookup goes through `__getattribute__` instead; from 3.12 on, the fall
    # through is cheap and the proxy's own attributes keep their normal lookup.
    if sys.version_info >= (3, 12):

        def __getattr__(self, name: str) -> Any:
            if name == "_lazy_target":  # unset: a half-built proxy, as `__new__` alone makes
                raise AttributeError(name)
            target = self._lazy_target
            if target is _UNSET:
                target = _target_of(self)
            return getattr(target, name)

    else:

        def __getattribute__(self, name: str) -> Any:
            if name[:1] != "_":
                target = _read_target(self)
                if target is _UNSET:
                    target = _target_of(self)
                return getattr(target, name)
            if name.startswith(("__", "_lazy_")) or name == "_after_fork_in_child":
                return object.__getattribute__(self, name)  # the proxy's own; unset on a half-built proxy
            return getattr(_target_of(self), name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._lazy_get(), name, value)

    def __delattr__(self, name: str) -> None:
        delattr(self._lazy_get(), name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._lazy_get()(*args, **kwargs)  # type: ignore[operator]

    def __getitem__(self, item: Any) -> Any:
        return self._lazy_get()[item]  # type: ignore[index]

    def __setitem__(self, item: Any, value: Any) -> None:
        self._lazy_get()[item] = value  # type: ignore[index]

    def __delitem__(self, item: Any) -> None:
        del self._lazy_get()[item]  # type: ignore[attr-defined]

    def __len__(self) -> int:
        return len(self._lazy_get())  # type: ignore[arg-type]

    def __contains__(self, item: object) -> bool:
        return item in self._lazy_get()  # type: ignore[operator]

    def __iter__(self) -> Iterator[Any]:
        return iter(cast("Any", self._lazy_get()))

    def __enter__(self) -> Any:
        return self._lazy_get().__enter__()  # type: ignore[attr-defined]

    def __exit__(self, *exc_info: object) -> Any:
        return self._lazy_get().__exit__(*exc_info)  # type: ignore[attr-defined]

    def __copy__(self) -> T:
        return copy.copy(self._lazy_get())

    def __deepcopy__(self, memo: dict[int, Any]) -> T:
        return copy.deepcopy(self._lazy_get(), memo)

    def __reduce_ex__(self, protocol: SupportsIndex) -> NoReturn:
        msg = "a LazyProxy cannot be pickled: pickle the object it stands for instead"
        raise TypeError(msg)

    def __repr__(self) -> str:
        target = self._lazy_target
        if target is _UNSET:
            factory = self._lazy_factory
            return f"<LazyProxy of {key_name(getattr(factory, '__qualname__', factory))}, not created>"
        return f"<LazyProxy of {target!r}>"


# The slot's own descriptor: reads the target without going through the proxy's lookup hooks.
_read_target: Callable[[LazyProxy[Any]], Any] = vars(LazyProxy)["_lazy_target"].__get__


def _target_of(proxy: LazyProxy[Any]) -> Any:
    """Return the proxy's target, building it first, once, if need be."""
    target = _read_target(proxy)
    if target is _UNSET:
        with object.__getattribute__(proxy, "_lazy_lock"):
            target = _read_target(proxy)
            if target is _UNSET:
                target = object.__getattribute__(proxy, "_lazy_factory")()
                object.__setattr__(proxy, "_lazy_target", target)
    return target
