"""`LazyProxy`: an object that builds its target on first use."""

from __future__ import annotations

import copy
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any, Final, Generic, NoReturn, SupportsIndex, TypeVar, cast

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
    the object it stands for; pickling is refused. The first read of a name
    through any proxy gives the class a property that forwards that name,
    so later reads of it cost one property call (up to 256 names; dunder
    names always take the slower `__getattr__` hook).

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

    def __getattr__(self, name: str) -> Any:
        if name == "_lazy_target":  # unset: a half-built proxy, as `__new__` alone makes
            raise AttributeError(name)
        if name in _forwarding:  # the name's forwarding property ran and failed
            failure = _failure_of(self, name)
            if failure is not None:
                raise failure
        target = self._lazy_target
        if target is _UNSET:
            target = _target_of(self)
        found = getattr(target, name)
        if name not in _forwarding:
            _forward(name)
        return found

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


# Forwarding properties. The first read of a name through any proxy falls through to
# `__getattr__`, which then puts on the class a property that reads that name from the
# target: later reads of the name, through any proxy, cost one property call (which the
# interpreter inlines from 3.12 on) instead of the failed lookup and the hook. A property
# that fails passes its AttributeError to `__getattr__`, which raises it again instead of
# reading the attribute twice. Dunder names, the class's own names and names past the
# limit keep the hook: every new property changes the class, and CPython stops
# specialising lookups on a class changed too often (about 1,000 times).
_MAX_FORWARDED: Final = 256
_forwarding: set[str] = set()
_failures = threading.local()


def _forwarding_template(self: LazyProxy[Any]) -> Any:
    try:
        return self._lazy_target.NAME
    except AttributeError as error:
        return _missed(self, "NAME", error)


def _forward(name: str) -> None:
    """Give `LazyProxy` a property that reads `name` from the target, if the name allows it."""
    if (
        len(_forwarding) >= _MAX_FORWARDED
        or not name.isidentifier()
        or name.startswith("__")
        or any(name in vars(cls) for cls in LazyProxy.__mro__)
    ):
        return
    code = _forwarding_template.__code__
    code = code.replace(
        co_names=tuple(name if each == "NAME" else each for each in code.co_names),
        co_consts=tuple(name if each == "NAME" else each for each in code.co_consts),
        co_name=name,
        co_qualname=f"LazyProxy.{name}",
    )
    getter = types.FunctionType(code, _forwarding_template.__globals__, name)
    setattr(LazyProxy, name, property(getter, doc=f"The target's {name!r}."))
    _forwarding.add(name)


def _missed(proxy: LazyProxy[Any], name: str, error: AttributeError) -> Any:
    """Finish a read by the forwarding property of `name` that failed with `error`.

    An unbuilt target is built and read; a built target's own AttributeError
    is kept for `__getattr__`, which Python calls next.
    """
    if _read_target(proxy) is _UNSET:
        try:
            return getattr(_target_of(proxy), name)
        except AttributeError as failure:
            error = failure
    _failures.last = (proxy, name, error)
    raise error


def _failure_of(proxy: LazyProxy[Any], name: str) -> AttributeError | None:
    """Return, once, the AttributeError that the forwarding property of `name` just raised on `proxy`."""
    last = getattr(_failures, "last", None)
    if last is None:
        return None
    _failures.last = None
    failed_proxy, failed_name, error = last
    return error if failed_proxy is proxy and failed_name == name else None
