"""Tests of the documentation: the site builds, every example runs, the API matches its reference."""
