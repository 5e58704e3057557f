"""`seizure-monitor ward`: the central station (a window, or --headless JSON lines), --demo N
bedsides in this process, and --bench; plus the bedside's --publish flags for `run`."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path

import redis

from monitor.commands import output_file, write_json
from monitor.settings import UsageError
from monitor.ward.connection import ENV_URL, RedisTarget, WardError, is_auth_error
from monitor.ward.station import OFFLINE_AFTER_S, Station, WardCommands

DEFAULT_SCREENSHOT_AFTER_S = 10.0


# -- the bedside's flags (seizure-monitor run) -------------------------------------------------

# -- the ward ---------------------------------------------------------------------------------

def add_parser(sub) -> None:
    p = sub.add_parser(
        "ward",
        help="the central station: every patient's monitor, over Redis",
        description="One tile per patient published with `run --publish URL --patient ID`: "
        "alarms (acknowledge, snooze), trends, health, history. --headless prints every "
        "patient's events as JSON lines instead.",
    )
    p.add_argument("--redis", metavar="REDIS_URL",
                   help=f"the Redis the bedsides publish to (default ${ENV_URL})")
    p.add_argument("--headless", action="store_true",
                   help="no window: every patient's events as JSON lines on stdout")
    p.add_argument("--user", default=None, help="who acknowledges here (default: login name)")
    p.add_argument("--station", default=None, help="where (default: this host's name)")
    p.add_argument("--offline-after", type=float, default=OFFLINE_AFTER_S, metavar="S",
                   help=f"a monitor silent this long is offline (default {OFFLINE_AFTER_S:g} s)")
    p.add_argument("--columns", type=int, default=4, help="tiles per row (default 4)")
    p.add_argument("--no-sound", action="store_true", help="do not beep for alarms")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--screenshot", type=output_file,
                   help="save a PNG of the window after --duration seconds (default 10), exit")
    d = p.add_argument_group("demo")
    d.add_argument("--demo", type=int, metavar="N",
                   help="also run N replaying bedsides of the bundled demo in this process")
    d.add_argument("--speed", type=float, default=1.0, help="the demo's replay speed (1)")
    b = p.add_argument_group("bench")
    b.add_argument("--bench", action="store_true",
                   help="measure delivery latency, Redis memory, ward CPU and frame rate "
                        "(starts a private redis-server unless --redis is given)")
    b.add_argument("--patients", default="16,64,256",
                   help="simulated bedsides per latency run (default 16,64,256)")
    b.add_argument("--seconds", type=float, default=20.0, help="length of each run (20)")
    b.add_argument("--real", type=int, default=2,
                   help="real replaying monitors next to the simulated ones (2)")
    b.add_argument("--json", type=output_file, help="write the figures as JSON")
    p.set_defaults(func=run)


def _check(target: RedisTarget) -> None:
    """A refused password stops the ward here (it will not fix itself); an unreachable
    server is a warning, and the station keeps trying."""
    client = target.client()
    try:
        client.ping()
    except redis.RedisError as exc:
        if is_auth_error(exc):
            raise WardError(target.describe(exc)) from None
        print(f"seizure-monitor ward: warning: {target.describe(exc)}; retrying until it "
              "answers.", file=sys.stderr)
    finally:
        client.close()


def run(args: argparse.Namespace) -> int:
    if args.bench:
        return _bench(args)
    if args.demo is not None and not 1 <= args.demo <= 64:
        raise UsageError(f"--demo takes 1 to 64 bedsides, got {args.demo}.")
    if args.offline_after <= 0 or args.columns < 1:
        raise UsageError("--offline-after must be > 0 s and --columns >= 1.")
    target = RedisTarget.resolve(args.redis)
    _check(target)
    demo = []
    if args.demo:
        from monitor.ward.demo import start_demo

        demo = start_demo(target, args.demo, speed=args.speed)
    try:
        if args.headless:
            return _headless(target, args)
        return _window(target, args)
    finally:
        if demo:
            from monitor.ward.demo import stop_demo

            stop_demo(demo)


def _bench(args: argparse.Namespace) -> int:
    from monitor.measure.ward_bench import WardBenchConfig, run_ward_bench, table

    try:
        patients = tuple(int(n) for n in args.patients.split(","))
    except ValueError:
        raise UsageError(f"--patients takes numbers separated by commas, got "
                         f"{args.patients!r}.") from None
    if not patients or min(patients) < 1 or args.seconds < 10 or args.real < 0:
        raise UsageError("--patients must be >= 1, --seconds >= 10 (an alert lasts 5 s), "
                         "--real >= 0.")
    if args.redis is not None:
        RedisTarget.resolve(args.redis)  # a bad URL is refused before minutes of work
    cfg = WardBenchConfig(patients=patients, seconds=args.seconds, real=args.real,
                          redis=args.redis)
    result = run_ward_bench(cfg)
    print()
    print(table(result))
    if args.json:
        write_json(args.json, result)
        print(f"\nwrote {args.json}")
    return 0


def _headless(target: RedisTarget, args: argparse.Namespace) -> int:
    lock = threading.Lock()

    def emit(event: dict) -> None:
        with lock:
            sys.stdout.write(json.dumps(event) + "\n")
            sys.stdout.flush()

    def link(ok: bool, detail: str) -> None:
        emit({"type": "redis_online" if ok else "redis_offline", "detail": detail,
              "ts": round(time.time(), 3)})

    station = Station(target, emit, link, offline_after_s=args.offline_after).start()
    stop = threading.Event()
    before = {sig: signal.signal(sig, lambda *_: stop.set())
              for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        stop.wait(args.duration)
    finally:
        for sig, handler in before.items():
            signal.signal(sig, handler)
        station.stop()
    return 0


def _window(target: RedisTarget, args: argparse.Namespace) -> int:
    from monitor.ui import has_screen

    if not has_screen() and args.screenshot is None:
        raise UsageError("no screen found (no DISPLAY or WAYLAND_DISPLAY): use --headless, "
                         "or QT_QPA_PLATFORM=offscreen with --screenshot for a picture.")
    if not has_screen():
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PyQt6 import sip
    from PyQt6.QtCore import QTimer
    from PyQt6.QtWidgets import QApplication

    from monitor.ui.ward_window import WardWindow, quiet_qt_messages

    quiet_qt_messages()
    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("seizure-monitor ward")
    commands = WardCommands(target, args.user or getpass.getuser(),
                            args.station or socket.gethostname()).start()
    window = WardWindow(target, commands, columns=args.columns,
                        offline_after_s=args.offline_after, sound=not args.no_sound)
    rows = 2 if args.demo and args.demo <= 2 * args.columns else 3
    window.resize(args.columns * 372 + 40, rows * 208 + 70)
    window.show()
    signal.signal(signal.SIGINT, lambda *_: window.close())
    wake = QTimer()
    wake.timeout.connect(lambda: None)
    wake.start(200)
    saved = {"ok": True}
    if args.screenshot is not None:
        def shoot() -> None:
            window.timer.stop()
            window.redraw(time.time(), flash_on=True)  # a still shows the alarm colour
            Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
            saved["ok"] = window.grab().save(str(args.screenshot))
            window.close()

        QTimer.singleShot(int(1000 * (args.duration or DEFAULT_SCREENSHOT_AFTER_S)), shoot)
    elif args.duration is not None:
        QTimer.singleShot(int(1000 * args.duration), window.close)
    app.exec()
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    wake.stop()
    window.shutdown()
    sip.delete(window)
    if not saved["ok"]:
        print(f"seizure-monitor ward: error: {args.screenshot}: cannot write the PNG.",
              file=sys.stderr)
        return 1
    return 0
