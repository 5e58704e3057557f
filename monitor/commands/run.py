"""`seizure-monitor run`: the monitor, on the dashboard or headless (JSON lines on stdout)."""

from __future__ import annotations

import argparse
import importlib.resources
import math
import signal
import sys
import time
from dataclasses import replace
from pathlib import Path

from model.checkpoint import pick_device
from model.data import read_eeg_file, read_recordings
from monitor.commands import output_file
from monitor.pipeline import Pipeline
from monitor.settings import ClassRule, MonitorSettings, load_toml
from monitor.sinks import EventLog, JsonLinesSink, LSLResultSink, Sink
from monitor.smoothing import SMOOTHING_MODES
from monitor.sources import LSLSource, ReplaySource, Source
from monitor.ui import has_screen
from monitor.ui.qt_platform import NoWindowError, prepare_window
from replay.scenario import build_scenario, parse_classes

DEMO_SCENARIO = "normal,tumor,normal,seizure,normal"


def demo_csv() -> Path:
    return Path(str(importlib.resources.files("assets") / "demo.csv"))


#: seconds to wait for an LSL stream to appear
TIMEOUT_S = 30.0


def add_source_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("source (none: the bundled demo replay)")
    g.add_argument("--lsl", metavar="NAME", help="live LSL stream by name")
    g.add_argument("--lsl-type", metavar="TYPE", help="live LSL stream by type, e.g. EEG")
    g.add_argument("--source-id", help="pick the LSL stream with this source_id")
    g.add_argument("--host", help="pick the LSL stream published from this hostname")
    g.add_argument("--timeout", type=float,
                   help=f"seconds to wait for the LSL stream to appear (default {TIMEOUT_S:g})")
    g.add_argument("--scale", type=float,
                   help="factor from the stream's values to microvolts (overrides its units)")
    g.add_argument("--csv", type=Path, help="replay recordings from the Kaggle CSV")
    g.add_argument("--bonn", type=Path, help="replay recordings from the Bonn folders")
    g.add_argument("--file", type=Path, help="replay an EEG file mne reads (EDF, BDF, FIF...)")
    g.add_argument("--scenario", help="classes to replay in order, e.g. normal,tumor,seizure")
    g.add_argument("--recordings", help="recording ids to replay in order, comma-separated")
    g.add_argument("--seed", type=int, help="which recordings a scenario picks (default 0)")
    g.add_argument("--speed", type=float,
                   help="replay speed, x real time (default 1; 0 = as fast as the worker takes it)")
    g.add_argument("--loop", action="store_true", help="replay forever")


def add_parser(sub) -> None:
    p = sub.add_parser(
        "run",
        help="run the monitor (dashboard, or --headless JSON lines)",
        description="Classify a live LSL stream or a replay as it arrives and raise alerts. "
        "With no source, replays the bundled demo: " + DEMO_SCENARIO + ".",
    )
    add_source_flags(p)
    m = p.add_argument_group("monitor")
    m.add_argument("--headless", action="store_true", help="no window: JSON lines on stdout")
    m.add_argument("--window", action="store_true", help="the dashboard or an error (exit 2) "
                   "where no window can open; by default the monitor falls back to headless")
    m.add_argument("--duration", type=float, help="stop after this many wall-clock seconds")
    m.add_argument("--events", type=Path, help="append alerts and status events (JSONL)")
    m.add_argument("--checkpoint", type=Path, help="model checkpoint (default: shipped)")
    m.add_argument("--device", choices=["auto", "cpu", "cuda"], default=None)
    m.add_argument("--hop", type=float, help="seconds of stream between windows (0.1)")
    m.add_argument("--smoothing", type=float, help="smoothing time constant, seconds")
    m.add_argument("--smoothing-mode", choices=SMOOTHING_MODES)
    m.add_argument("--seizure-on", type=float, help="seizure alert threshold")
    m.add_argument("--seizure-off", type=float, help="seizure alert clears below this")
    m.add_argument("--tumor-on", type=float, help="tumor warning threshold")
    m.add_argument("--tumor-off", type=float, help="tumor warning clears below this")
    m.add_argument("--channels-k", type=int, help="channels that must agree (1 = any)")
    m.add_argument("--config", type=Path, help="settings TOML (flags override it)")
    m.add_argument("--lsl-out", action="store_true",
                   help="publish smoothed probabilities and alert markers over LSL")
    m.add_argument("--no-predictions", action="store_true",
                   help="headless: print alerts and status only")
    m.add_argument("--screenshot", type=output_file, help="dashboard: save a PNG after --duration "
                   "seconds (default 10) and exit")
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> MonitorSettings:
    from monitor.cli import UsageError

    try:
        s = load_toml(args.config) if args.config else MonitorSettings()
        top = {k: v for k, v in (("hop_s", args.hop), ("smoothing_s", args.smoothing),
                                 ("smoothing_mode", args.smoothing_mode),
                                 ("device", args.device), ("checkpoint", args.checkpoint))
               if v is not None}
        alerts = s.alerts
        for cls in ("seizure", "tumor"):
            on, off = getattr(args, f"{cls}_on"), getattr(args, f"{cls}_off")
            rule: ClassRule = getattr(alerts, cls)
            if on is not None or off is not None:
                alerts = replace(alerts, **{cls: rule.with_thresholds(on, off)})
        if args.channels_k is not None:
            alerts = replace(alerts, channels_k=args.channels_k)
        return replace(s, alerts=alerts, **top)
    except (ValueError, TypeError) as exc:
        raise UsageError(str(exc)) from None


def source_from_args(args: argparse.Namespace) -> Source:
    from monitor.cli import UsageError

    speed = replay_speed(args)
    if not 0 <= speed < math.inf:
        raise UsageError(f"--speed must be >= 0 (0 = as fast as possible), got {speed}.")
    live = args.lsl or args.lsl_type or args.source_id
    files = [f for f in (args.csv, args.bonn, args.file) if f is not None]
    if live and files:
        raise UsageError("give either a live LSL stream or a file to replay, not both.")
    if len(files) > 1:
        raise UsageError("give only one of --csv, --bonn, --file.")
    # A flag the chosen source has no use for is refused, not quietly ignored.
    replay_only = [flag for flag, given in (
        ("--scenario", args.scenario), ("--recordings", args.recordings),
        ("--seed", args.seed is not None), ("--speed", args.speed is not None),
        ("--loop", args.loop))
        if given]
    lsl_only = [flag for flag, given in (
        ("--host", args.host), ("--timeout", args.timeout is not None),
        ("--scale", args.scale is not None)) if given]
    if live:
        if replay_only:
            raise UsageError(f"{', '.join(replay_only)} set a replay; a live LSL stream "
                             "(--lsl, --lsl-type, --source-id) has no use for them.")
        return LSLSource(args.lsl, args.lsl_type, args.source_id, args.host,
                         TIMEOUT_S if args.timeout is None else args.timeout, args.scale)
    if lsl_only:
        raise UsageError(f"{', '.join(lsl_only)} pick or read a live LSL stream; name it with "
                         "--lsl, --lsl-type or --source-id (this would replay a file).")
    if args.scenario and args.recordings:
        raise UsageError("give --scenario or --recordings, not both.")
    classes = parse_classes(args.scenario) if args.scenario else None
    ids = [i.strip() for i in args.recordings.split(",")] if args.recordings else None
    if args.file:
        recordings = [read_eeg_file(args.file)]
        name = args.file.stem
    elif files:
        recordings = read_recordings(args.csv, args.bonn)
        name = files[0].stem
    else:
        recordings = read_recordings(demo_csv())
        classes = classes or (None if ids else parse_classes(DEMO_SCENARIO))
        name = "demo"
    scenario = build_scenario(recordings, classes, ids, args.seed or 0)
    return ReplaySource(scenario, speed=speed, loop=args.loop, name=name)


def replay_speed(args: argparse.Namespace) -> float:
    """--speed, or real time (1) where it was not given; None marks a flag not given, so a
    live stream can refuse it."""
    return 1.0 if args.speed is None else args.speed


def run(args: argparse.Namespace) -> int:
    from monitor.cli import UsageError

    settings = settings_from_args(args)
    try:
        pick_device(settings.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    source = source_from_args(args)
    if args.window and args.headless:
        raise UsageError("give --window or --headless, not both.")
    if not args.headless and args.screenshot is None and not args.window and not has_screen():
        print("seizure-monitor run: no screen found (no DISPLAY or WAYLAND_DISPLAY): running "
              "headless. Set QT_QPA_PLATFORM=offscreen with --screenshot for a picture.",
              file=sys.stderr)
        args.headless = True
    if not args.headless:
        try:  # Qt aborts the process when its platform cannot load: find out before it starts
            args.headless, note = prepare_window(args.window, args.screenshot is not None)
        except NoWindowError as exc:
            raise UsageError(str(exc)) from None
        if note:
            print(f"seizure-monitor run: {note}", file=sys.stderr)
    if not args.headless:
        from monitor.ui.app import run_dashboard

        return run_dashboard(source, settings, args)
    return run_headless(source, settings, args)


def run_headless(source: Source, settings: MonitorSettings, args: argparse.Namespace) -> int:
    from monitor.cli import UsageError

    sinks: list[Sink] = []
    if args.events:
        try:
            # First: whatever reaches stdout is on disk already, even if killed in between.
            sinks.append(EventLog(args.events, header={"settings": repr(settings)}))
        except ValueError as exc:
            raise UsageError(f"{exc} Give --events a writable file path.") from None
    sinks.append(JsonLinesSink(sys.stdout, predictions=not args.no_predictions))
    pipeline = Pipeline(source, settings, sinks)
    if args.lsl_out:
        pipeline.add_sink(LSLResultSink("seizure-monitor", 1.0 / settings.hop_s,
                                        f"seizure-monitor-{time.time_ns()}"))

    def stop(signum, frame):
        pipeline.stop(timeout=0)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
    pipeline.start()
    deadline = None if args.duration is None else time.monotonic() + args.duration
    while not pipeline.done.is_set():
        if deadline is not None and time.monotonic() >= deadline:
            pipeline.stop()
        pipeline.done.wait(0.1)
    pipeline.stop()
    if pipeline.error:
        print(f"seizure-monitor run: error: {pipeline.error}", file=sys.stderr)
        return 1
    return 0
