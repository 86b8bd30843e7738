"""The pytest plugin: every test starts from the same default locator, in every worker.

Installing worker-locator activates it through the `pytest11` entry point,
under the name `worker_locator`; `-p no:worker_locator` turns it off. It
works with pytest-xdist, without it and with `-p no:xdist`, on pytest 7.4 to
9.x (`pip install 'worker-locator[pytest]'` declares the range); an older
pytest, or a pluggy older than 1.1, stops the run with one `ERROR:` line
(exit status 4) saying so.

**Isolation.** Before the first test, the plugin takes a checkpoint of the
default locator ([`worker_locator.get_locator()`][worker_locator.get_locator]):
registrations made while conftest files and test modules were imported are
the baseline. If nothing has created the default locator by then, the plugin
waits, and runs none of its per-test hooks, until a test or a fixture first
does; the baseline is then that new, empty locator, so a suite that never uses
the locator pays nothing per test for the plugin. After each isolation unit it calls
[`restore`][worker_locator.ServiceLocator.restore] with that checkpoint, which
drops the registrations made since, discards
[`override`][worker_locator.ServiceLocator.override] blocks that were never
exited and closes the cached instances, including ones a test mutated. Services
registered with `keep_between_tests=True` stay cached. Registrations made by a
fixture whose scope is wider than the unit (a session fixture, under
per-test isolation) join the baseline until that fixture is torn down; the
instances such a fixture gets from the locator are closed at the end of the
unit like any other, unless their service keeps them between tests. A test
that calls [`reset_locator()`][worker_locator.reset_locator] is undone as
well: the locator it installed is closed and the baseline locator becomes the default again.

The unit is set with the ini option `locator_isolation`:

- `test` (the default): one test. All examples of one Sybil document are one
  unit, since they share one namespace and build on each other; the plugin
  also keeps each document's examples together and in file order when
  pytest-randomly shuffles the items.
- `module`: one test file.
- `session`: the whole run of this process.
- `none`: no resets; the fixtures, figures and snapshots still work.

`test` is the default because state that leaks from one test to the next is
what makes a suite pass with `-n 0` and fail with `-n 4`: which tests share a
worker process, and in what order, is decided by the scheduler and by
pytest-randomly, so a hidden dependency fails only now and then. Resetting
after every test makes such a dependency fail in every run and every order,
where it can be found. A wider unit is cheaper only where building services is
expensive, and `keep_between_tests=True` handles that per service.

**Sybil documents under pytest-xdist.** The examples of one Sybil document
build on each other, so the plugin keeps each document on one worker, its
examples in file order with no other test between them, under `--dist load`
(the default), `worksteal`, `loadscope`, `loadfile` and `loadgroup`, with or
without pytest-randomly, and with nothing to configure. The controller wraps
the scheduler the `--dist` mode chose, which then deals, steals and requeues
each document as one test; ordinary tests are dealt as before, and xdist's
`-v` line still names the scheduler of the mode. A document is recognised by
the node ids Sybil gives its examples (`doc.md::line:4,column:1`). When a
worker crashes inside a document, the example that was running is reported
as the crash; under `load` and `worksteal` the document's later examples are
not run (the namespace they needed is gone), and under the scope modes xdist
queues the document again as a whole, as it queues any work unit. `--dist
each` and schedulers of other plugins are left alone.

**Fixtures.** `service_locator` is the locator a test should use,
`override_service(key, value)` overrides a service until the test ends, and
`exclusive_resource(name)` holds a [`worker_locator.exclusive`][] lock until the
test ends.

**Report.** A run that never touches the default locator prints nothing
from the plugin, at any verbosity and with `--co`, so suites that assert
pytest's exact output (pytester-based ones) see the same lines with the
plugin installed. When a test built, looked up or evicted a service, asked
for one of the fixtures or replaced the default locator, or when
`--locator-snapshot` was given, a `worker-locator` section at the end gives,
for each worker, the constructions, misses, evictions and resets of its
default locator, with its pid and resource namespace under `-v`; `-q` hides
it. A problem (closing services failed, a snapshot could not be written) is
shown at every verbosity. Cache hits are counted only with the ini option
`locator_count_hits = true`, since counting them takes every cached lookup
through the locator's locked slow path.

**Failure report.** When a test fails in a process that used the locator,
its report gets a section, `worker-locator: the tests before this one`,
which travels with the report under xdist: which worker ran it, how many
tests ran there before it, which of those registered or overrode a service
it looked up (a change that outlived that test), built or got an instance it
then got (kept between tests, or cached under a wider unit), or held a
resource it holds (`held_resources()`, [`exclusive()`][worker_locator.exclusive]),
and a command that
replays the worker's order up to the failure in one process (`pytest -p
no:xdist -p no:randomly` and the node ids, or `@FILE` for a long order).
Nothing is recorded on a cached `get`; what a test got is read from the
cache's own "used since the last sweep" bits, which the plugin clears as
each test starts, so each test's first `get` of a service built before it
takes the slow path once.

**Leftovers.** `--locator-leftovers`, or the ini option `locator_leftovers
= true`, lists at the end of the run the tests that left registrations,
open `override` blocks or a new default locator behind, which the isolation
undid; it is off by default.

**Snapshots.** `--locator-snapshot DIR` makes each worker (or the single
process of a run without xdist) write its snapshot to `DIR` at the end of the
session, atomically and under a name no other worker, run or host uses. The
services in it are every service the process cached during the session. Read
them with `python -m worker_locator.diagnosis DIR`.
"""

from __future__ import annotations

import pytest

from ._plugin.documents import keep_sybil_documents_together

# pytest finds a plugin's fixtures among its module's attributes: each one is imported here.
from ._plugin.fixtures import (  # noqa: F401
    ExclusiveResource,
    OverrideService,
    exclusive_resource,
    override_service,
    service_locator,
)
from ._plugin.options import ISOLATION_SCOPES, add_options, configure

__all__ = ["ISOLATION_SCOPES", "ExclusiveResource", "OverrideService", "keep_sybil_documents_together"]


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the `locator_isolation`, `locator_count_hits` and `locator_leftovers` ini options and two flags."""
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    """Refuse a pytest older than 7.4, check the options, and start this process's session."""
    configure(config)


def _report_public_module() -> None:
    """Make public objects name this module, so reprs and the reference never show private paths."""
    namespace = globals()
    for name in __all__:
        if callable(namespace[name]):  # ISOLATION_SCOPES is a tuple, which has no module
            namespace[name].__module__ = __name__


_report_public_module()
