"""`seizure-monitor run`: the monitor, on the dashboard or headless (JSON lines on stdout)."""

from __future__ import annotations

import argparse
import signal
import sys
import time
from dataclasses import fields, replace
from pathlib import Path

from model.checkpoint import pick_device
from monitor.commands import output_file
from monitor.launch import (
    DEMO_SCENARIO,
    TIMEOUT_S,
    SourceSpec,
    attach_recorder,
    build_source,
    check_record_path_or_refuse,
    standard_sinks,
    start_recorder,
)
from monitor.pipeline import Pipeline
from monitor.settings import DECISIONS, ClassRule, MonitorSettings, UsageError, load_toml
from monitor.sinks import JsonLinesSink
from monitor.smoothing import SMOOTHING_MODES
from monitor.sources import Source
from monitor.ui import has_screen
from monitor.ui.qt_platform import prepare_window
from monitor.ward.connection import ENV_URL, RedisTarget
from monitor.ward.keys import check_patient
from monitor.ward.publisher import RedisPublisher


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


def add_publish_flags(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("ward (alerts and trends to a central station over Redis)")
    g.add_argument("--publish", nargs="?", const="", metavar="REDIS_URL",
                   help=f"publish to Redis (redis://[:password@]host[:port][/db], rediss:// "
                        f"for TLS); without a URL, or to keep the password out of ps, set "
                        f"${ENV_URL}")
    g.add_argument("--patient", metavar="ID", help="the patient id (letters, digits, . - _); "
                   "also names the --lsl-out streams")
    g.add_argument("--label", help="how the ward shows the patient (default: the id)")
    g.add_argument("--take-over", action="store_true",
                   help="replace another monitor that publishes this patient id")


def publisher_from_args(args: argparse.Namespace, command: str = "run") -> RedisPublisher | None:
    """The publisher the flags ask for, its patient id claimed (a second monitor is refused,
    exit 2); None without --publish. An unreachable Redis or a refused password is one
    warning line: monitoring goes on and publishes once Redis can be reached."""
    if args.patient is not None:
        check_patient(args.patient)
    if args.publish is None:
        extra = [f for f, v in (("--label", args.label), ("--take-over", args.take_over)) if v]
        if extra:
            raise UsageError(f"{', '.join(extra)} set how to publish; add --publish.")
        return None
    if args.patient is None:
        raise UsageError("--publish needs --patient ID: the ward shows and acknowledges "
                         "patients by their id.")
    target = RedisTarget.resolve(args.publish or None)
    publisher = RedisPublisher(target, args.patient, args.label or "", take_over=args.take_over)
    problem = publisher.claim_now()
    if problem is not None:
        print(f"seizure-monitor {command}: warning: {problem}; monitoring goes on, and alerts "
              "are published once Redis can be reached.", file=sys.stderr)
    return publisher


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
    m.add_argument("--decision", choices=DECISIONS,
                   help="ema: the smoother (default); context: the checkpoint's learned context "
                   "stage over the last tens of seconds")
    m.add_argument("--seizure-on", type=float, help="seizure alert threshold")
    m.add_argument("--seizure-off", type=float, help="seizure alert clears below this")
    m.add_argument("--tumor-on", type=float, help="tumor warning threshold")
    m.add_argument("--tumor-off", type=float, help="tumor warning clears below this")
    m.add_argument("--channels-k", type=int, help="channels that must agree (1 = any)")
    m.add_argument("--config", type=Path, help="settings TOML (flags override it)")
    m.add_argument("--record", type=Path, metavar="PATH.vhdr",
                   help="record the stream as it arrives (BrainVision .vhdr/.eeg/.vmrk), with "
                   "alerts and status events as markers and the predictions beside it")
    m.add_argument("--lsl-out", action="store_true",
                   help="publish smoothed probabilities and alert markers over LSL")
    m.add_argument("--no-predictions", action="store_true",
                   help="headless: print alerts and status only")
    m.add_argument("--screenshot", type=output_file, help="dashboard: save a PNG after --duration "
                   "seconds (default 10) and exit")
    m.add_argument("--verbose", action="store_true",
                   help="show liblsl's own log lines on stderr (hidden: the status events say "
                        "what matters)")
    add_publish_flags(p)
    p.set_defaults(func=run)


def settings_from_args(args: argparse.Namespace) -> MonitorSettings:
    try:
        s = load_toml(args.config) if args.config else MonitorSettings()
        top = {k: v for k, v in (("hop_s", args.hop), ("smoothing_s", args.smoothing),
                                 ("smoothing_mode", args.smoothing_mode),
                                 ("decision", args.decision),
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


def spec_from_args(args: argparse.Namespace) -> SourceSpec:
    """The source flags (``add_source_flags``) as a SourceSpec."""
    return SourceSpec(**{f.name: getattr(args, f.name) for f in fields(SourceSpec)})


def run(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    try:
        pick_device(settings.device)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if args.window and args.headless:
        raise UsageError("give --window or --headless, not both.")
    spec = spec_from_args(args)
    source = build_source(spec)
    if args.record is not None:  # refused now, before anything starts, where it cannot work
        check_record_path_or_refuse(args.record)
    publisher = publisher_from_args(args)
    if not args.headless and args.screenshot is None and not args.window and not has_screen():
        print("seizure-monitor run: no screen found (no DISPLAY or WAYLAND_DISPLAY): running "
              "headless. Set QT_QPA_PLATFORM=offscreen with --screenshot for a picture.",
              file=sys.stderr)
        args.headless = True
    if not args.headless:
        # Qt aborts the process when its platform cannot load: find out before it starts (a
        # window asked for that cannot open raises NoWindowError, a UsageError).
        args.headless, note = prepare_window(args.window, args.screenshot is not None)
        if note:
            print(f"seizure-monitor run: {note}", file=sys.stderr)
    if not args.headless:
        from monitor.ui.app import run_dashboard

        return run_dashboard(source, settings, spec, events=args.events,
                             lsl_out=args.lsl_out, screenshot=args.screenshot,
                             duration=args.duration, record=args.record,
                             publisher=publisher, patient=args.patient)
    return run_headless(source, settings, args, publisher)


def run_headless(source: Source, settings: MonitorSettings, args: argparse.Namespace,
                 publisher: RedisPublisher | None = None) -> int:
    recorder = start_recorder(args.record) if args.record else None
    sinks = standard_sinks(settings, args.events, {"settings": repr(settings)}, args.lsl_out,
                           printer=JsonLinesSink(sys.stdout, predictions=not args.no_predictions),
                           recorder=recorder, patient=args.patient)
    pipeline = Pipeline(source, settings, sinks, taps=[recorder] if recorder else None)
    if recorder is not None:
        attach_recorder(recorder, pipeline)
    if publisher is not None:
        publisher.attach(pipeline)
        publisher.start()

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
    if publisher is not None:  # the last events (down to "stopped") to Redis, if it answers
        publisher.close()
        publisher.join()
    if pipeline.error:
        print(f"seizure-monitor run: error: {pipeline.error}", file=sys.stderr)
        return 1
    return 0
