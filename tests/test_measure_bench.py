"""The benchmark's parts (monitor/measure/bench.py) that need no timing: the capacity search."""

from __future__ import annotations

from monitor.measure.bench import capacity_search


def test_capacity_search_doubles_then_bisects() -> None:
    tried = []

    def trial(n: int) -> bool:
        tried.append(n)
        return n <= 700

    assert capacity_search(trial, 16, 4096, bisect_steps=4) == 672
    assert tried[:7] == [16, 32, 64, 128, 256, 512, 1024]
    assert capacity_search(lambda n: True, 16, 100, 4) == 64  # capped by the limit
    assert capacity_search(lambda n: n <= 3, 16, 4096, 0) == 3  # below the start
