"""`seizure-monitor bench --record`: what recording (`run --record`) costs the live monitor.

The bench's own streaming trials (``monitor.measure.bench.stream_trial``: the synthetic
amplifier in its own process, a real LSL stream on loopback, the real pipeline) run in pairs
in one run, one without a recorder and one with a recorder as tap and sink (first among the
sinks, as `run --record` puts it), alternating so a change in the machine's load falls on
both: the end-to-end latency at 64 channels (push of a window's last sample to its
prediction), and the real-time capacity (the most channels classified without skipping a
window). Each recording is checked afterwards: every sample the pipeline took in is in it.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from monitor.measure.amplifier import Amplifier
from monitor.measure.bench import BenchConfig, bench_classifier, capacity_search, stream_trial
from monitor.record import Recorder, RecordingPaths
from monitor.settings import MonitorSettings

VARIANTS = ("without", "with")


def _trial(amp: Amplifier, clf, settings: MonitorSettings, n: int, warmup_s: float,
           measure_s: float, folder: Path | None, k: int) -> dict:
    """One streaming trial; with ``folder``, recorded there (and the recording checked and
    removed)."""
    if folder is None:
        return stream_trial(amp, clf, settings, n, warmup_s, measure_s)
    path = folder / f"trial-{k}.vhdr"
    rec = Recorder(path)
    result = stream_trial(amp, clf, settings, n, warmup_s, measure_s, taps=(rec,), sinks=(rec,))
    rec.close()  # the pipeline closed it; this only waits for its thread
    paths = RecordingPaths.of(path)
    frame = 4 * (n + 1)  # the amplifier sends a counter channel beside the EEG
    result["recorded_samples"] = paths.eeg.stat().st_size // frame if paths.eeg.exists() else 0
    result["recorded_intact"] = rec.failed is None and rec.dropped == 0
    for p in paths.all():
        p.unlink(missing_ok=True)
    return result


def record_cost(cfg: BenchConfig, checkpoint=None, channels: int = 64, rounds: int = 3,
                log: Callable[[str], None] = print) -> dict:
    clf, model_name = bench_classifier(checkpoint)
    settings = MonitorSettings(device="cpu")
    load_start = os.getloadavg()
    latency: dict[str, list[dict]] = {v: [] for v in VARIANTS}
    capacity: dict[str, int | None] = {v: None for v in VARIANTS}
    counter = iter(range(10**6))
    with tempfile.TemporaryDirectory(prefix="record-bench-") as tmp, Amplifier() as amp:
        folder = Path(tmp)
        for r in range(rounds):
            for v in VARIANTS:
                res = _trial(amp, clf, settings, channels, cfg.warmup_s, cfg.latency_s,
                             folder if v == "with" else None, next(counter))
                latency[v].append(res)
                log(f"  round {r + 1} {v:>7} recording: {channels} channels, p50 {res['p50']} "
                    f"ms, p99 {res['p99']} ms, {res['windows']} windows, {res['skipped']} "
                    f"skipped" + (f", {res['recorded_samples']} samples recorded"
                                  if v == "with" else ""))
        if cfg.capacity:
            for v in VARIANTS:
                log(f"capacity {v} recording (doubling from {cfg.capacity_start}) ...")

                def trial(n: int, v=v) -> bool:
                    res = _trial(amp, clf, settings, n, cfg.warmup_s, cfg.capacity_trial_s,
                                 folder if v == "with" else None, next(counter))
                    ok = res["keeps_up"] and res.get("recorded_intact", True)
                    log(f"  {v:>7} {n:5d} channels: {'keeps up' if ok else 'behind'} "
                        f"(p99 {res['p99']} ms)")
                    return ok

                capacity[v] = capacity_search(trial, cfg.capacity_start, cfg.capacity_limit,
                                              cfg.bisect_steps)

    def median(v: str, key: str) -> float | None:
        values = [r[key] for r in latency[v] if r[key] is not None]
        return round(float(np.median(values)), 2) if values else None

    result = {"model": model_name, "channels": channels, "rounds": rounds,
              "latency_s_per_trial": cfg.latency_s,
              "p50_ms": {v: median(v, "p50") for v in VARIANTS},
              "p99_ms": {v: median(v, "p99") for v in VARIANTS},
              "p99_ms_each": {v: [r["p99"] for r in latency[v]] for v in VARIANTS},
              "skipped": {v: sum(r["skipped"] for r in latency[v]) for v in VARIANTS},
              "capacity_channels": capacity,
              "recordings_intact": all(r["recorded_intact"] for r in latency["with"]),
              "load_average": {"start": [round(x, 2) for x in load_start],
                               "end": [round(x, 2) for x in os.getloadavg()]}}
    log(f"\nrecording cost at {channels} channels ({rounds} rounds of {cfg.latency_s:g} s each, "
        "alternating):")
    log(f"  end-to-end p50 {result['p50_ms']['without']} ms without, "
        f"{result['p50_ms']['with']} ms with --record")
    log(f"  end-to-end p99 {result['p99_ms']['without']} ms without, "
        f"{result['p99_ms']['with']} ms with --record (each round: "
        f"{result['p99_ms_each']['without']} / {result['p99_ms_each']['with']})")
    if cfg.capacity:
        log(f"  capacity {capacity['without']} channels without, {capacity['with']} with")
    log(f"  every recording complete: {result['recordings_intact']}; load average "
        f"{result['load_average']['start'][0]} at the start, "
        f"{result['load_average']['end'][0]} at the end")
    return result
