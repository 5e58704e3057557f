"""The ward bench's latency run at toy size (its figures come from `seizure-monitor ward
--bench`; this checks the path and its accounting of lost and duplicated alerts)."""

from __future__ import annotations

from monitor.measure.ward_bench import WardBenchConfig, forget, latency_run


def test_latency_run_counts_every_alert_once(redis_server, tmp_path):
    cfg = WardBenchConfig(patients=(3,), seconds=6.0, warmup=1.5, period=2.0, real=0)
    r = latency_run(cfg, redis_server.url, 3, tmp_path)
    assert r["alert_messages"] >= 2 and r["lost"] == 0 and r["duplicated"] == 0
    assert 0 <= r["p50_ms"] <= r["p99_ms"] <= r["max_ms"] < 1000
    forget(redis_server.url, "bench3")
    assert redis_server.client().hlen("seizure-monitor:patients") == 0
