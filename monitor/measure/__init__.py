"""Tools that measure the monitor (benchmarks), not part of it."""
