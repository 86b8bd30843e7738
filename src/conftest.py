"""Run the docstring examples of the package under src/ (not shipped: only src/worker_locator is).

The machinery lives in `docs/_executable_docs.py`, shared with `docs/conftest.py` and `tests/docs/`.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Generator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

_HERE = Path(__file__).parent


def _load_support() -> ModuleType:
    name = "worker_locator_executable_docs"
    module = sys.modules.get(name)
    if module is None:
        path = _HERE.parent / "docs" / "_executable_docs.py"
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            msg = f"cannot load the executable-docs support module {path}"
            raise ImportError(msg)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return module


_support = _load_support()

pytest_collect_file = _support.docstring_sybil(_HERE).pytest()


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """Keep each module's docstring examples on one worker, as `pytest -n 8 src/` alone needs too."""
    return _support.make_scheduler(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run each module's docstring examples together and in source order."""
    _support.keep_documents_in_source_order(items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Name the module and line in the summary of a skipped example."""
    report = yield
    _support.point_skips_at_the_document(item, report)
    return report
