"""`seizure-monitor ward --bench`: what the ward costs and how fast its alarms travel.

- Delivery latency, bedside decision to ward: simulated bedsides (the real RedisPublisher,
  fed decisions rather than the model, in a child process so that hundreds fit on a small
  machine) and a few real monitors (``seizure-monitor run --publish`` replaying the demo),
  one Redis, and one ward consumer (the real Station, in this process). The latency of an
  alert message is the time the ward received it minus the time the publisher was handed the
  decision (``ts``); one machine, one clock. Lost and duplicated alerts are counted against
  what the bedsides sent.
- The ward's CPU per patient (this process's CPU over the run, divided by the patients).
- Redis memory per patient-day: a day of one patient's messages written with the real schema
  (86,400 trend entries, a busy day's alerts, acks and status events), with the caps.
- The ward window's frame rate with 64 tiles, offscreen, fed by 64 simulated bedsides.

Without ``--redis`` a private redis-server (AOF on, fsync every second) runs in a temp dir.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import psutil

from monitor.alerts import Alert, AlertEvent
from monitor.measure.redis_server import LocalRedis
from monitor.sinks import Prediction, StatusEvent
from monitor.ward.connection import RedisTarget
from monitor.ward.keys import EVENTS_MAXLEN, REGISTRY, TREND_MAXLEN, PatientKeys
from monitor.ward.publisher import RedisPublisher
from monitor.ward.station import Station


@dataclass(frozen=True)
class WardBenchConfig:
    patients: tuple[int, ...] = (16, 64, 256)
    seconds: float = 20.0  # alerts are raised for this long in each latency run
    warmup: float = 5.0  # heartbeats only: the ward finds every patient
    period: float = 10.0  # each simulated bedside raises an alert this often (on, off 5 s later)
    real: int = 2  # real replaying monitors next to the simulated ones
    tiles: int = 64
    fps_seconds: float = 10.0
    memory_patients: int = 4
    redis: str | None = None  # None: a private redis-server
    root: Path = field(default_factory=lambda: Path(__file__).resolve().parents[2])


# -- the simulated bedsides (a child process) ----------------------------------------------

def _prediction(p: float) -> Prediction:
    row = np.array([[p, (1 - p) / 2, (1 - p) / 2]], np.float32)
    return Prediction(0.0, row, row, np.array([True]), ("EEG",), None,
                      "seizure" if p > 0.5 else "normal", 1.0, None, 0)


def simulate(url: str, n: int, prefix: str, warmup: float, seconds: float, period: float,
             seed: int = 0) -> dict:
    """n publishers fed decisions: a prediction every 100 ms each, an alert every ``period``
    s each (off 5 s later) after ``warmup``. Returns the uids of the alert messages sent."""
    target = RedisTarget.resolve(url)
    pubs = [RedisPublisher(target, f"{prefix}-{i:03d}", f"Sim {i + 1}", take_over=True,
                           notify=lambda e, d: None) for i in range(n)]
    for pub in pubs:
        pub.claim_now()
        pub.start()
        pub.status(StatusEvent(0.0, "started", "simulated bedside"))
    rng = np.random.default_rng(seed)
    schedule = []  # (time, bedside, state)
    for i, phase in enumerate(rng.uniform(0, period, n)):
        t = warmup + phase
        while t + 5 < warmup + seconds:
            schedule += [(t, i, "on"), (t + 5, i, "off")]
            t += period
    schedule.sort()
    low, high = _prediction(0.05), _prediction(0.95)
    on = [False] * n
    t0 = time.monotonic()
    next_pred, k = 0.0, 0
    while (el := time.monotonic() - t0) < warmup + seconds:
        while k < len(schedule) and schedule[k][0] <= el:
            _, i, state = schedule[k]
            t = round(el, 3)
            alert = Alert("seizure", t - 0.5, t, 0.9, ("EEG",), end=None if state == "on" else t)
            pubs[i].alert(AlertEvent(state, alert))
            on[i] = state == "on"
            k += 1
        if el >= next_pred:
            next_pred += 0.1
            for i, pub in enumerate(pubs):
                pub.prediction(high if on[i] else low)
        time.sleep(0.005)
    for pub in pubs:
        pub.status(StatusEvent(0.0, "stopped", "simulated bedside"))
        pub.close()
    for pub in pubs:
        pub.join(10.0)
    sent = [e.message.uid for pub in pubs for e in list(pub.outbox._entries)
            if e.message.type == "alert"]
    unsent = sum(pub.outbox.unsent for pub in pubs)
    return {"sent": sent, "unsent": unsent, "cpu_s": round(time.process_time(), 2)}


# -- one latency run -----------------------------------------------------------------------

def _real_monitor(cfg: WardBenchConfig, url: str, patient: str, seed: int,
                  events: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "monitor.cli", "run", "--headless", "--no-predictions",
           "--scenario", "normal,seizure,normal", "--seed", str(seed), "--speed", "4", "--loop",
           "--events", str(events), "--publish", url, "--patient", patient]
    env = dict(os.environ, PYTHONPATH=str(cfg.root))
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def latency_run(cfg: WardBenchConfig, url: str, n: int, workdir: Path) -> dict:
    """n simulated bedsides, cfg.real real monitors, one ward: latency, losses, CPU."""
    prefix = f"bench{n}"
    received: list[dict] = []
    station = Station(RedisTarget.resolve(url), received.append)
    station.start()
    reals = [_real_monitor(cfg, url, f"{prefix}-real-{k}", k, workdir / f"real{n}-{k}.jsonl")
             for k in range(cfg.real)]
    sim = subprocess.Popen(
        [sys.executable, "-m", "monitor.measure.ward_bench", "simulate", url, str(n), prefix,
         str(cfg.warmup), str(cfg.seconds), str(cfg.period)],
        env=dict(os.environ, PYTHONPATH=str(cfg.root)), stdout=subprocess.PIPE, text=True)
    me = psutil.Process()
    info = RedisTarget.resolve(url).client(timeout=30)
    time.sleep(cfg.warmup)
    cpu0, wall0, redis0 = me.cpu_times(), time.monotonic(), _redis_cpu(info)
    out, _ = sim.communicate(timeout=cfg.seconds + 120)
    cpu1, wall1, redis1 = me.cpu_times(), time.monotonic(), _redis_cpu(info)
    info.close()
    sim_result = json.loads(out.strip().splitlines()[-1])
    for proc in reals:
        proc.send_signal(signal.SIGINT)
    for proc in reals:
        proc.wait(30)
    sent = sim_result["sent"]
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with station.lock:
            got = {e["uid"] for e in received if e["type"] == "alert"}
        if got >= set(sent):
            break
        time.sleep(0.1)
    if reals:
        time.sleep(1.0)  # what the real monitors sent last (their count is checked after)
    station.stop()
    alerts = [e for e in received if e["type"] == "alert"]
    sim_alerts = [e for e in alerts if not e["patient"].startswith(f"{prefix}-real")]
    uids = [e["uid"] for e in sim_alerts]
    lost = len(set(sent) - set(uids))
    duplicated = len(uids) - len(set(uids))
    real_logged = 0
    for k in range(cfg.real):
        log = workdir / f"real{n}-{k}.jsonl"
        if log.exists():
            real_logged += sum(json.loads(line).get("type") == "alert"
                               for line in log.read_text().splitlines())
    real_seen = sum(e["patient"].startswith(f"{prefix}-real") for e in alerts)
    lat = np.array([1e3 * (e["received"] - e["ts"]) for e in alerts])
    cpu = (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)
    wall = wall1 - wall0
    return {
        "patients": n, "real_monitors": cfg.real, "alert_messages": len(alerts),
        "p50_ms": round(float(np.percentile(lat, 50)), 1) if len(lat) else None,
        "p99_ms": round(float(np.percentile(lat, 99)), 1) if len(lat) else None,
        "max_ms": round(float(lat.max()), 1) if len(lat) else None,
        "lost": lost, "duplicated": duplicated, "unsent_at_end": sim_result["unsent"],
        "real_alerts_logged": real_logged, "real_alerts_at_ward": real_seen,
        "ward_cpu_percent": round(100 * cpu / wall, 1),
        "ward_cpu_ms_per_patient_s": round(1e3 * cpu / wall / (n + cfg.real), 3),
        "bedsides_cpu_s": sim_result["cpu_s"],
        "redis_cpu_percent": round(100 * (redis1 - redis0) / wall, 1),
        "redis_cpu_ms_per_patient_s": round(1e3 * (redis1 - redis0) / wall / (n + cfg.real), 3),
    }


def _redis_cpu(client) -> float:
    """Seconds of CPU the Redis server has used (INFO cpu: main thread and children)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


# -- memory --------------------------------------------------------------------------------

def memory_per_patient_day(url: str, patients: int = 8) -> dict:
    """Write one day of ``patients`` patients' messages (real schema, real caps) and read
    back what Redis holds for them."""
    target = RedisTarget.resolve(url)
    client = target.client(timeout=30)
    day = 86_400
    pubs = [RedisPublisher(target, f"memday-{i:02d}", f"Day {i}", notify=lambda e, d: None)
            for i in range(patients)]
    used0 = client.info("memory")["used_memory"]
    for pub in pubs:
        keys = pub.keys
        for h in range(24):  # a busy day: an alert an hour, acknowledged, 8 status events
            t = h * 3600.0
            pub.alert(AlertEvent("on", Alert("seizure", t, t + 0.5, 0.9, ("EEG",))))
            pub.status(StatusEvent(t, "acknowledged", "seizure alert acknowledged by nurse at "
                                                      "ward-1"))
            pub.alert(AlertEvent("off", Alert("seizure", t, t + 0.5, 0.97, ("EEG",),
                                              end=t + 40)))
            for k in range(8):
                pub.status(StatusEvent(t + k, "bad_samples" if k % 2 else "signal_ok",
                                       "EEG: flat line for 2.0 s"))
        pipe = client.pipeline(transaction=False)
        for entry in pub.outbox.pending(100_000):
            pipe.xadd(entry.key, entry.message.fields(), maxlen=EVENTS_MAXLEN, approximate=True)
        pipe.execute()
        pred = _prediction(0.07)
        for chunk in range(0, day, 5000):
            pipe = client.pipeline(transaction=False)
            for _ in range(min(5000, day - chunk)):
                pub.prediction(pred)
                msg = pub.take_trend()
                pipe.xadd(keys.trend, msg.fields(), maxlen=TREND_MAXLEN, approximate=True)
            pipe.execute()
    used1 = client.info("memory")["used_memory"]
    keys = PatientKeys("memday-00")
    sizes = {kind: client.memory_usage(getattr(keys, kind), samples=0) or 0
             for kind in ("events", "trend")}
    entries = {kind: client.xlen(getattr(keys, kind)) for kind in ("events", "trend")}
    per_trend_entry = sizes["trend"] / max(1, entries["trend"])
    for pub in pubs:
        client.delete(pub.keys.events, pub.keys.trend, pub.keys.commands, pub.keys.claim)
    client.close()
    return {
        "patients": patients,
        "events_entries_per_day": entries["events"], "events_bytes": sizes["events"],
        "trend_entries_kept": entries["trend"], "trend_bytes": sizes["trend"],
        "bytes_per_patient_day": round((used1 - used0) / patients),
        "trend_bytes_per_entry": round(per_trend_entry),
        "uncapped_trend_bytes_per_day": round(per_trend_entry * day),
    }


# -- the window ----------------------------------------------------------------------------

def window_fps(cfg: WardBenchConfig, url: str) -> dict:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PyQt6 import sip
    from PyQt6.QtWidgets import QApplication

    from monitor.measure.dashboard_fps import run_qt_for
    from monitor.ui.ward_window import WardWindow, quiet_qt_messages

    quiet_qt_messages()
    app = QApplication.instance() or QApplication(["ward-bench"])
    n = cfg.tiles
    sim = subprocess.Popen(
        [sys.executable, "-m", "monitor.measure.ward_bench", "simulate", url, str(n), "fps",
         str(cfg.warmup), str(cfg.fps_seconds + 4), "20"],
        env=dict(os.environ, PYTHONPATH=str(cfg.root)), stdout=subprocess.DEVNULL)
    window = WardWindow(RedisTarget.resolve(url), None, columns=8, sound=False)
    window.resize(8 * 372 + 40, 8 * 208 + 70)
    window.show()
    ticks: list[float] = []
    window.frame_drawn.connect(lambda: ticks.append(time.perf_counter()))

    run_qt_for(cfg.warmup + 2)  # every tile made and laid out, alarms starting
    ticks.clear()
    start, gui0 = time.perf_counter(), time.thread_time()
    run_qt_for(cfg.fps_seconds)
    elapsed, gui = time.perf_counter() - start, time.thread_time() - gui0
    tiles = len(window.tiles)
    alarms = sum(st.urgent() is not None for st in window.state.patients.values())
    window.close()
    window.shutdown()
    app.processEvents()
    sip.delete(window)
    sim.wait(60)
    gaps = np.diff(ticks) * 1e3 if len(ticks) > 1 else np.array([np.inf])
    return {"tiles": tiles, "alarms_at_end": alarms, "seconds": round(elapsed, 1),
            "fps": round(len(ticks) / elapsed, 1), "max_gap_ms": round(float(gaps.max()), 1),
            "gui_cpu_ms_per_frame": round(1e3 * gui / max(1, len(ticks)), 2)}


def forget(url: str, prefix: str) -> None:
    """Delete the keys and registry entries of the bench's patients ``prefix-*``."""
    client = RedisTarget.resolve(url).client(timeout=30)
    for raw in client.hkeys(REGISTRY):
        patient = raw.decode()
        if patient.startswith(prefix + "-"):
            k = PatientKeys(patient)
            client.delete(k.events, k.trend, k.commands, k.claim)
            client.hdel(REGISTRY, patient)
    client.close()


# -- all of it -----------------------------------------------------------------------------

def run_ward_bench(cfg: WardBenchConfig, progress=print) -> dict:
    with tempfile.TemporaryDirectory(prefix="ward-bench-") as tmp:
        workdir = Path(tmp)
        server = None
        url = cfg.redis
        if url is None:
            server = LocalRedis(workdir / "redis", appendonly=True).start()
            url = server.url
        try:
            result: dict = {"redis": RedisTarget.resolve(url).shown,
                            "private_redis": server is not None,
                            "cpus": os.cpu_count(), "load_1min_start": os.getloadavg()[0]}
            result["latency"] = []
            for n in cfg.patients:
                progress(f"latency: {n} simulated bedsides + {cfg.real} real monitors...")
                result["latency"].append(latency_run(cfg, url, n, workdir))
                forget(url, f"bench{n}")
                progress(f"  {result['latency'][-1]}")
            progress("Redis memory per patient-day...")
            result["memory"] = memory_per_patient_day(url, cfg.memory_patients)
            forget(url, "memday")
            progress(f"  {result['memory']}")
            progress(f"ward window with {cfg.tiles} tiles...")
            result["window"] = window_fps(cfg, url)
            forget(url, "fps")
            progress(f"  {result['window']}")
            result["load_1min_end"] = os.getloadavg()[0]
            return result
        finally:
            if server is not None:
                server.stop()


def table(result: dict) -> str:
    lines = ["patients  alerts  p50 ms  p99 ms  max ms  lost  dup  ward CPU %  ward ms/patient-s"
             "  Redis CPU %  Redis ms/patient-s",
             "--------  ------  ------  ------  ------  ----  ---  ----------  -----------------"
             "  -----------  ------------------"]
    for r in result["latency"]:
        lines.append(f"{r['patients']:>8}  {r['alert_messages']:>6}  {r['p50_ms']:>6}  "
                     f"{r['p99_ms']:>6}  {r['max_ms']:>6}  {r['lost']:>4}  {r['duplicated']:>3}"
                     f"  {r['ward_cpu_percent']:>10}  {r['ward_cpu_ms_per_patient_s']:>17}"
                     f"  {r['redis_cpu_percent']:>11}  {r['redis_cpu_ms_per_patient_s']:>18}")
    lines += [f"real monitors next to them: {r['real_monitors']}, their alerts logged / at the "
              f"ward: {r['real_alerts_logged']} / {r['real_alerts_at_ward']} ({r['patients']} "
              "patients)" for r in result["latency"]]
    m, w = result["memory"], result["window"]
    lines += ["", f"Redis per patient-day (capped): {m['bytes_per_patient_day'] / 1024:.0f} KiB "
                  f"(events {m['events_entries_per_day']} entries {m['events_bytes'] / 1024:.0f} "
                  f"KiB, trend {m['trend_entries_kept']} kept {m['trend_bytes'] / 1024:.0f} KiB;"
                  f" uncapped trend would be {m['uncapped_trend_bytes_per_day'] / 2**20:.1f} "
                  "MiB a day)",
              f"ward window: {w['tiles']} tiles, {w['fps']} fps, longest gap "
              f"{w['max_gap_ms']} ms, {w['gui_cpu_ms_per_frame']} ms GUI CPU a frame",
              f"load average {result['load_1min_start']:.2f} at the start, "
              f"{result['load_1min_end']:.2f} at the end, {result['cpus']} CPUs"]
    return "\n".join(lines)


def _main(argv: list[str]) -> None:
    """The child process of the latency runs: ``simulate URL N PREFIX WARMUP SECONDS
    PERIOD``; prints one JSON line."""
    p = argparse.ArgumentParser(prog="ward_bench")
    p.add_argument("what", choices=["simulate"])
    p.add_argument("url")
    p.add_argument("n", type=int)
    p.add_argument("prefix")
    p.add_argument("warmup", type=float)
    p.add_argument("seconds", type=float)
    p.add_argument("period", type=float)
    a = p.parse_args(argv)
    out = simulate(a.url, a.n, a.prefix, a.warmup, a.seconds, a.period)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    _main(sys.argv[1:])
