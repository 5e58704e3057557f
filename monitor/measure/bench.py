"""`seizure-monitor bench`: how fast the monitor is, measured on this machine.

Five measurements, each a median over repeats after a warm-up, on every device torch sees:

1. throughput of the classifier at batch 1..1024 next to the original notebook's per-window
   loop (scaler, tensor, model, argmax, one window at a time), in the same run;
2. real-time capacity: the most channels the running monitor classifies at the default hop
   without skipping a window, over a real LSL stream on loopback, found by doubling and then
   bisection;
3. end-to-end latency over LSL loopback, from the push of a window's last sample to the
   emission of its prediction, split into ingest (push until the sample is in the ring buffer)
   and inference (ring buffer until the prediction reaches the sinks);
4. the dashboard's frame rate with 64 channels (``monitor.measure.dashboard_fps``);
5. resident memory at the start and after a long replay at full speed.

The synthetic amplifier (``monitor.measure.amplifier``) runs in a process of its own, as a real
one would, at the model's rate (173.61 Hz, so nothing is resampled and the figures are the
monitor's, not the resampler's). The pipeline is the real one; a tap notes when each chunk
reached the ring buffer and which window each prediction is, and a sink when it was emitted.
The report and targets: ``monitor.measure.bench_report``.
"""

from __future__ import annotations

import gc
import itertools
import os
import platform
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import psutil
import pylsl
import torch
from sklearn.preprocessing import StandardScaler

from model.checkpoint import Classifier, load_classifier, shipped_checkpoint
from model.data import BONN_RATE, CLASSES, read_recordings
from model.network import SeizureNet
from monitor.launch import demo_csv
from monitor.measure.amplifier import Amplifier, BenchError, synthetic_eeg
from monitor.measure.bench_report import BATCHES, targets
from monitor.pipeline import Pipeline, Tap
from monitor.settings import MonitorSettings
from monitor.sinks import Prediction, Sink
from monitor.sources import LSLSource, ReplaySource, SourceChunk
from monitor.worker import WindowResult
from replay.scenario import build_scenario


@dataclass(frozen=True)
class BenchConfig:
    """How long and how often to measure; ``quick()`` / ``full()`` / ``tiny()`` are presets."""

    mode: str = "full"
    repeats: int = 11  # throughput: repeats per figure (the median is reported)
    min_repeat_s: float = 0.4  # throughput: each repeat runs at least this long
    threads_sweep: bool = True  # throughput also at every core's thread
    capacity: bool = True
    capacity_start: int = 16
    capacity_limit: int = 4096  # CPU; CUDA searches up to 4x this
    capacity_trial_s: float = 8.0
    bisect_steps: int = 4
    warmup_s: float = 1.5
    latency_s: float = 30.0  # per channel count
    latency_channels: tuple[int, ...] = (1, 64)
    mne_lsl: bool = True
    dashboard_s: float | None = 10.0  # None: not measured
    memory_stream_min: float = 30.0

    @classmethod
    def full(cls) -> BenchConfig:
        return cls()

    @classmethod
    def quick(cls) -> BenchConfig:
        return cls(mode="quick", repeats=5, min_repeat_s=0.15,
                   threads_sweep=False, capacity_start=64, capacity_limit=2048,
                   capacity_trial_s=2.5, bisect_steps=0, warmup_s=1.0, latency_s=4.0,
                   dashboard_s=3.0, memory_stream_min=3.0)

    @classmethod
    def tiny(cls) -> BenchConfig:
        """For tests: every code path, no meaningful figure."""
        return cls(mode="tiny", repeats=2, min_repeat_s=0.0,
                   threads_sweep=False, capacity_start=2, capacity_limit=2,
                   capacity_trial_s=1.0, bisect_steps=0, warmup_s=0.5, latency_s=1.0,
                   latency_channels=(1, 4), mne_lsl=False, dashboard_s=None,
                   memory_stream_min=0.3)


# --- the pipeline, timed -------------------------------------------------------------------------


class StageClock(Tap):
    """Notes when each chunk reached the ring buffer and which window each prediction is."""

    def __init__(self):
        #: per chunk: buffer index of its first sample, its counter, size, clock at the write
        self.chunks: list[tuple[int, float, int, float]] = []
        self.window_ends: list[int] = []

    def chunk(self, chunk: SourceChunk, first: int) -> None:
        # Read just before the write (which takes microseconds): read after it, the worker,
        # woken by the write, has often emitted the prediction already.
        self.chunks.append((first, float(chunk.data[0, 0]), len(chunk.timestamps),
                            pylsl.local_clock()))

    def window(self, result: WindowResult) -> None:
        self.window_ends.append(result.end)


class _EmissionClock(Sink):
    def __init__(self):
        self.emitted: list[float] = []
        self.skipped: list[int] = []

    def prediction(self, p: Prediction) -> None:
        self.emitted.append(pylsl.local_clock())
        self.skipped.append(p.skipped_total)


def _percentiles(x: np.ndarray, prefix: str = "") -> dict[str, float | None]:
    if len(x) == 0:
        return {f"{prefix}p50": None, f"{prefix}p99": None, f"{prefix}max": None}
    return {f"{prefix}p50": round(float(np.percentile(x, 50)), 3),
            f"{prefix}p99": round(float(np.percentile(x, 99)), 3),
            f"{prefix}max": round(float(np.max(x)), 3)}


def stream_trial(amp: Amplifier, clf: Classifier, settings: MonitorSettings, n_eeg: int,
                 warmup_s: float, measure_s: float, taps: tuple[Tap, ...] = ()) -> dict:
    """Stream ``n_eeg`` channels into the real pipeline; skipped windows and latencies of the
    windows emitted after the warm-up. ``taps`` run beside the bench's own (a recorder, to
    measure what it costs)."""
    rate = clf.sample_rate
    source_id = f"seizure-monitor-bench-{uuid.uuid4().hex[:12]}"
    amp.start(n_eeg, rate, source_id, max_s=warmup_s + measure_s + 60)
    sink, clock = _EmissionClock(), StageClock()
    pipe = Pipeline(LSLSource(source_id=source_id, timeout=15), settings, [sink],
                    classifier=clf, taps=[clock, *taps])
    pipe.start()
    try:
        deadline = time.monotonic() + 30
        while not sink.emitted and not pipe.done.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        if not sink.emitted:
            raise BenchError(f"no prediction from the pipeline within 30 s at {n_eeg} "
                             f"channel(s): {pipe.error or 'the stream was not found'}")
        pipe.done.wait(warmup_s + measure_s)
    finally:
        pipe.stop()  # the inlet closes before the outlet
        pipe.wait(10)
        push = amp.stop()
    if pipe.error:
        raise BenchError(f"the pipeline failed at {n_eeg} channel(s): {pipe.error}")
    n = min(len(clock.window_ends), len(sink.emitted))
    ends = np.asarray(clock.window_ends[:n])
    emitted = np.asarray(sink.emitted[:n])
    skipped = np.asarray(sink.skipped[:n])
    chunks = np.asarray(clock.chunks)
    starts, counters, sizes, landed = chunks.T
    lost = int(np.sum(counters[1:] - (counters[:-1] + sizes[:-1])))
    # The chunk holding each window's last sample, and that sample's counter.
    j = np.searchsorted(starts, ends - 1, side="right") - 1
    counter = (counters[j] + (ends - 1 - starts[j])).astype(int)
    keep = emitted >= emitted[0] + warmup_s
    keep &= counter < len(push)
    pushed = push[np.minimum(counter, len(push) - 1)]
    total = (emitted - pushed)[keep] * 1e3
    ingest = (landed[j] - pushed)[keep] * 1e3
    infer = (emitted - landed[j])[keep] * 1e3
    measured = float(emitted[keep][-1] - emitted[keep][0]) if keep.sum() > 1 else 0.0
    expected = measured / settings.hop_s
    n_skipped = int(skipped[keep][-1] - skipped[keep][0]) if keep.any() else 0
    n_windows = int(keep.sum())
    return {
        "channels": n_eeg,
        "windows": n_windows,
        "skipped": n_skipped,
        "lost_samples": lost,
        "seconds": round(measured, 2),
        "keeps_up": bool(n_windows > 1 and n_skipped == 0 and lost == 0
                         and n_windows >= 0.9 * expected),
        **_percentiles(total),
        **_percentiles(ingest, "ingest_"),
        **_percentiles(infer, "inference_"),
    }


def capacity_search(trial: Callable[[int], bool], start: int, limit: int,
                    bisect_steps: int) -> int:
    """The largest channel count for which ``trial`` passes: doubling from ``start`` to the
    first failure (or ``limit``), then bisection. 0 if even one channel fails."""
    lo, hi, n = 0, None, start
    while n <= limit:
        if trial(n):
            lo, n = n, n * 2
        else:
            hi = n
            break
    if hi is None:
        return lo
    if lo == 0 and start > 1:
        bisect_steps = max(bisect_steps, int(np.log2(start)) + 1)
    for _ in range(bisect_steps):
        mid = (lo + hi) // 2
        if mid in (lo, hi):
            break
        if trial(mid):
            lo = mid
        else:
            hi = mid
    return lo


def mne_lsl_ingest(amp: Amplifier, rate: float, n_eeg: int, warmup_s: float,
                   measure_s: float) -> dict | None:
    """Ingest latency of mne-lsl's StreamLSL (push until the sample is in its buffer) on the
    same synthetic stream; None where mne-lsl is not installed."""
    try:
        from mne_lsl.stream import StreamLSL
    except ImportError:
        return None

    class _TimedStream(StreamLSL):
        def _acquire(self) -> None:
            super()._acquire()
            added = getattr(self, "_n_new_samples", 0)
            if added > 0:
                self.landed.append((pylsl.local_clock(), self._buffer[-added:, 0].copy()))
                self._n_new_samples = 0  # as a reader would, so the count never overflows

    source_id = f"seizure-monitor-bench-{uuid.uuid4().hex[:12]}"
    amp.start(n_eeg, rate, source_id, max_s=warmup_s + measure_s + 60)
    stream = _TimedStream(bufsize=5.0, source_id=source_id)
    stream.landed = []
    try:
        try:
            stream.connect(acquisition_delay=0.001, timeout=15)
        except Exception as exc:  # mne-lsl's own errors: an optional comparison, not ours
            raise BenchError(f"mne-lsl could not connect: {exc}") from exc
        time.sleep(warmup_s + measure_s)
    finally:
        stream.disconnect()
        push = amp.stop()
    if not stream.landed:
        return None
    t_first = stream.landed[0][0]
    lat = [(t - push[c.astype(int)]) * 1e3 for t, c in stream.landed if t >= t_first + warmup_s]
    return _percentiles(np.concatenate(lat) if lat else np.zeros(0))


# --- throughput --------------------------------------------------------------------------------


def _median_rate(call: Callable[[], None], per_call: int, repeats: int, min_s: float,
                 warmup: int = 3) -> float:
    """Median over repeats of calls per second times ``per_call``; each repeat runs at least
    ``min_s``. Past a budget of twice the planned time (a starved thread pool on a busy
    machine can be 100 times slower) it stops early and takes the median of what it has."""
    budget = time.perf_counter() + 2 * repeats * min_s + 5.0
    for _ in range(warmup):
        call()
    rates: list[float] = []
    while len(rates) < repeats and (not rates or time.perf_counter() < budget):
        calls, start = 0, time.perf_counter()
        while True:
            call()
            calls += 1
            elapsed = time.perf_counter() - start
            if elapsed >= min_s or time.perf_counter() > budget:
                break
        rates.append(calls * per_call / elapsed)
    return float(np.median(rates))


def notebook_loop(clf: Classifier, scaler: StandardScaler, windows: np.ndarray) -> list[int]:
    """The original notebook's inference: one window at a time, scaler, tensor, model, argmax."""
    preds = []
    with torch.inference_mode():
        for w in windows:
            x = torch.tensor(scaler.transform(w[None]), dtype=torch.float32, device=clf.device)
            preds.append(int(clf.net(x).argmax(1)[0]))
    return preds


def throughput(clf: Classifier, device: str, cfg: BenchConfig, threads: int) -> dict:
    """Windows per second through ``predict_proba`` at each batch size, and the notebook loop
    (timed per window, cycling through the same windows)."""
    clf.to(device)
    torch.set_num_threads(threads)
    windows = synthetic_eeg(max(BATCHES), clf.window, clf.sample_rate, seed=1)
    scaler = StandardScaler().fit(windows)
    singles = itertools.cycle(windows[:, None, :])
    loop = _median_rate(lambda: notebook_loop(clf, scaler, next(singles)), 1, cfg.repeats,
                        cfg.min_repeat_s)
    batch = {}
    for b in BATCHES:
        x = windows[:b]
        batch[str(b)] = round(_median_rate(lambda x=x: clf.predict_proba(x), b, cfg.repeats,
                                           cfg.min_repeat_s))
    return {"loop": round(loop), "batch": batch, "threads": threads,
            "ratio_256": round(batch["256"] / loop, 2)}


# --- memory --------------------------------------------------------------------------------------


class _MemoryProbe(Sink):
    """Resident memory at the first prediction and once ``seconds`` of stream have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.pipeline: Pipeline | None = None
        self.start_mb: float | None = None
        self.end_mb: float | None = None
        self.windows = 0
        self._proc = psutil.Process()

    def prediction(self, p: Prediction) -> None:
        self.windows += 1
        if self.start_mb is None:
            gc.collect()
            self.start_mb = self._proc.memory_info().rss / 2**20
        if p.t >= self.seconds and self.end_mb is None:
            gc.collect()
            self.end_mb = self._proc.memory_info().rss / 2**20
            self.pipeline.stop(timeout=0)


def memory(clf: Classifier, stream_minutes: float) -> dict:
    """The bundled demo recordings looped through the real pipeline at full speed (lockstep),
    as ``seizure-monitor run`` replays them (178 Hz CSV rows, so the resampler runs too)."""
    scenario = build_scenario(read_recordings(demo_csv()))
    probe = _MemoryProbe(stream_minutes * 60)
    pipe = Pipeline(ReplaySource(scenario, speed=0, loop=True, name="bench-memory"),
                    MonitorSettings(device="cpu"), [probe], classifier=clf)
    probe.pipeline = pipe
    start = time.perf_counter()
    pipe.start()
    pipe.wait()
    if pipe.error:
        raise BenchError(f"the memory replay failed: {pipe.error}")
    return {"start": round(probe.start_mb, 1), "end": round(probe.end_mb, 1),
            "stream_minutes": stream_minutes, "windows": probe.windows,
            "replay_windows_per_s": round(probe.windows / (time.perf_counter() - start))}


# --- the dashboard -----------------------------------------------------------------------------


def dashboard_fps(seconds: float) -> dict | None:
    """``measure_dashboard_fps`` with 64 channels; None without PyQt6 (a GPU server may have no
    Qt at all)."""
    try:
        from monitor.measure.dashboard_fps import measure_dashboard_fps

        return dict(measure_dashboard_fps(channels=64, seconds=seconds))
    except ImportError:
        return None


# --- the whole run -----------------------------------------------------------------------------


def hardware() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith(
                "model name"))
    except (OSError, StopIteration):
        pass
    out = {"cpu": cpu, "logical_cores": os.cpu_count(),
           "physical_cores": psutil.cpu_count(logical=False),
           "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
           "os": platform.platform(), "python": platform.python_version(),
           "torch": torch.__version__, "torch_default_threads": torch.get_num_threads(),
           "mkldnn": torch.backends.mkldnn.is_available(), "cuda": None}
    if torch.cuda.is_available():
        out["cuda"] = {"device": torch.cuda.get_device_name(0), "version": torch.version.cuda}
    return out


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def bench_classifier(checkpoint=None) -> tuple[Classifier, str]:
    """The given checkpoint, else the shipped one, else an untrained network of the default
    configuration (the speed is the same; only the classes it picks are meaningless)."""
    if checkpoint is not None or shipped_checkpoint().is_file():
        clf = load_classifier(checkpoint)
        return clf, str(checkpoint or shipped_checkpoint())
    net = SeizureNet().eval()
    net.set_scaler(0.0, 150.0, 3.5, 1.0)
    return Classifier(net, CLASSES, net.config.window, BONN_RATE, {}), "untrained default network"


def _streaming(amp: Amplifier, clf: Classifier, cfg: BenchConfig, devices: list[str],
               settings: MonitorSettings, result: dict, log: Callable[[str], None]) -> None:
    """Capacity, latency and mne-lsl's ingest over the amplifier's LSL stream; a part that
    fails is reported in ``result["errors"]`` and left null, and the others still run."""

    def attempt(what: str, measure: Callable[[], object]):
        try:
            return measure()
        except BenchError as exc:
            log(f"  {what} not measured: {exc}")
            result["errors"].append(f"{what}: {exc}")
            return None

    if cfg.capacity:
        for dev in devices:
            trials: list[dict] = []
            dev_settings = replace(settings, device=dev)

            def trial(n: int, dev=dev, trials=trials, s=dev_settings) -> bool:
                r = stream_trial(amp, clf, s, n, cfg.warmup_s, cfg.capacity_trial_s)
                trials.append(r)
                log(f"  {dev} {n:5d} channels: {'keeps up' if r['keeps_up'] else 'behind'}"
                    f" ({r['windows']} windows, {r['skipped']} skipped, p99 {r['p99']} ms)")
                return r["keeps_up"]

            limit = cfg.capacity_limit * (4 if dev == "cuda" else 1)
            log(f"capacity on {dev} (doubling from {cfg.capacity_start}, "
                f"{cfg.bisect_steps} bisection steps) ...")
            result["capacity_channels"][dev] = attempt(
                f"capacity on {dev}",
                lambda trial=trial, limit=limit: capacity_search(
                    trial, cfg.capacity_start, limit, cfg.bisect_steps))
            result["capacity_trials"][dev] = trials
    auto = replace(settings, device="auto")
    for n in cfg.latency_channels:
        log(f"latency at {n} channel(s) over {cfg.latency_s:g} s ...")
        result["latency_ms"][str(n)] = attempt(
            f"latency at {n} channels",
            lambda n=n: stream_trial(amp, clf, auto, n, cfg.warmup_s, cfg.latency_s))
    if cfg.mne_lsl:
        n = max(cfg.latency_channels)
        log(f"mne-lsl StreamLSL ingest at {n} channels over {cfg.latency_s:g} s ...")
        ingest = attempt("mne-lsl ingest", lambda: mne_lsl_ingest(
            amp, clf.sample_rate, n, cfg.warmup_s, cfg.latency_s))
        result["mne_lsl_ingest_ms"] = None if ingest is None else {str(n): ingest}


def run_bench(cfg: BenchConfig, devices: list[str], checkpoint=None,
              log: Callable[[str], None] = print) -> dict:
    started = time.perf_counter()
    clf, model_name = bench_classifier(checkpoint)
    hw = hardware()
    settings = MonitorSettings()
    name = f"{hw['cpu']} ({hw['logical_cores']} logical cores)"
    if hw["cuda"]:
        name += f", {hw['cuda']['device']} (CUDA {hw['cuda']['version']})"
    result: dict = {
        "device": f"{name}, torch {torch.__version__}",
        "hardware": hw,
        "mode": cfg.mode,
        "model": model_name,
        "load_average": {"start": _load_average()},
        "settings": {"hop_s": settings.hop_s, "torch_threads": settings.torch_threads,
                     "stream_rate_hz": clf.sample_rate, "repeats": cfg.repeats},
    }
    log(f"bench ({cfg.mode}) on {result['device']}; model: {model_name}")

    log(f"memory: replaying {cfg.memory_stream_min:g} min of stream at full speed ...")
    result["memory_mb"] = memory(clf, cfg.memory_stream_min)

    result["throughput"] = {}
    for dev in devices:
        log(f"throughput on {dev} ...")
        tp = throughput(clf, dev, cfg, settings.torch_threads)
        if dev == "cpu" and cfg.threads_sweep and (os.cpu_count() or 1) > 1:
            more = throughput(clf, dev, cfg, os.cpu_count())
            tp["batch_by_threads"] = {str(settings.torch_threads): tp["batch"],
                                      str(os.cpu_count()): more["batch"]}
            tp["loop_by_threads"] = {str(settings.torch_threads): tp["loop"],
                                     str(os.cpu_count()): more["loop"]}
        result["throughput"][dev] = tp
    clf.to("cpu")
    torch.set_num_threads(settings.torch_threads)

    result["capacity_channels"] = {dev: None for dev in devices}
    result["capacity_trials"] = {}
    result["latency_ms"] = {str(n): None for n in cfg.latency_channels}
    result["mne_lsl_ingest_ms"] = None
    result["errors"] = []
    with Amplifier() as amp:
        _streaming(amp, clf, cfg, devices, settings, result, log)
    clf.to("cpu")

    result["dashboard_fps"] = None
    result["dashboard"] = None
    if cfg.dashboard_s:
        log(f"dashboard frame rate with 64 channels over {cfg.dashboard_s:g} s ...")
        result["dashboard"] = dashboard_fps(cfg.dashboard_s)
        if result["dashboard"] is not None:
            result["dashboard_fps"] = result["dashboard"].get("fps")

    result["targets"] = targets(result)
    result["load_average"]["end"] = _load_average()
    result["seconds"] = round(time.perf_counter() - started, 1)
    return result
