"""Find where pytest-xdist workers and runs collide (work in progress)."""
