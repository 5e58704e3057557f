"""Tools that drive the runtime and measure it (benchmarks, evaluations); not part of it."""
