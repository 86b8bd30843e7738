"""The parts of the pytest plugin; `worker_locator.pytest_plugin` is its entry point."""
