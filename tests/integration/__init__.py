"""Integration tests: small real suites run under pytest-xdist in subprocesses."""
