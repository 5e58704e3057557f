"""`seizure-monitor bench`: every part runs and the JSON has the issue's shape. No timing is
asserted: speed is what the benchmark measures, not what a test on a shared machine can judge."""

from __future__ import annotations

import json

import numpy as np
import pytest

from monitor.cli import main
from monitor.measure.amplifier import synthetic_eeg
from monitor.measure.bench import capacity_search
from monitor.measure.bench_report import BATCHES, table
from monitor.quality import check_windows


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and np.isfinite(x)


@pytest.fixture(scope="module")
def bench(tmp_path_factory) -> tuple[dict, str]:
    path = tmp_path_factory.mktemp("bench") / "bench.json"
    assert main(["bench", "--tiny", "--device", "cpu", "--json", str(path)]) == 0
    return json.loads(path.read_text()), str(path)


def test_json_has_the_issue_keys(bench) -> None:
    r, _ = bench
    assert isinstance(r["device"], str) and r["device"]
    tp = r["throughput"]["cpu"]
    assert _number(tp["loop"]) and tp["loop"] > 0
    assert set(tp["batch"]) == {str(b) for b in BATCHES}
    assert all(_number(v) and v > 0 for v in tp["batch"].values())
    assert _number(r["capacity_channels"]["cpu"])
    for n in ("1", "4"):
        lat = r["latency_ms"][n]
        for key in ("p50", "p99", "max", "ingest_p99", "inference_p99"):
            assert _number(lat[key]), key
        assert lat["windows"] > 0 and lat["lost_samples"] == 0
    assert r["dashboard_fps"] is None or _number(r["dashboard_fps"])
    assert _number(r["memory_mb"]["start"]) and _number(r["memory_mb"]["end"])
    assert set(r["targets"]) >= {"batch256_10x_loop", "capacity_512"}


def test_latency_parts_add_up(bench) -> None:
    """Each window's latency contains its ingest and its inference time, so neither part's
    median or p99 can exceed the latency's (every window's part <= its whole)."""
    for n in ("1", "4"):
        lat = bench[0]["latency_ms"][n]
        assert 0 <= lat["ingest_p50"] <= lat["p50"] and 0 <= lat["inference_p50"] <= lat["p50"]
        assert lat["ingest_p99"] <= lat["p99"] and lat["inference_p99"] <= lat["p99"]
        assert lat["max"] >= lat["p99"] >= lat["p50"]


def test_table_names_every_part(bench) -> None:
    text = table(bench[0])
    for part in ("Inference throughput", "Real-time capacity", "latency", "Resident memory"):
        assert part in text


def test_capacity_search_doubles_then_bisects() -> None:
    tried = []

    def trial(n: int) -> bool:
        tried.append(n)
        return n <= 700

    assert capacity_search(trial, 16, 4096, bisect_steps=4) == 672
    assert tried[:7] == [16, 32, 64, 128, 256, 512, 1024]
    assert capacity_search(lambda n: True, 16, 100, 4) == 64  # capped by the limit
    assert capacity_search(lambda n: n <= 3, 16, 4096, 0) == 3  # below the start


def test_synthetic_eeg_is_classified() -> None:
    x = synthetic_eeg(32, 1024, 173.61)
    assert x.dtype == np.float32 and x.shape == (32, 1024)
    windows = x[:, :120]
    assert check_windows(windows) == [None] * 32


def test_quick_and_tiny_exclude_each_other(capsys) -> None:
    assert main(["bench", "--quick", "--tiny"]) == 2
    assert "not both" in capsys.readouterr().err
