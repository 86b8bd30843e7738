"""The worker-locator pytest plugin (work in progress)."""
