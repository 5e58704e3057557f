"""`seizure-monitor replay`: publish recorded EEG as a live LSL stream, with truth markers."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from model.data import read_bonn_dir, read_eeg_file, read_kaggle_csv
from monitor.commands import add_dataset_flags
from monitor.settings import UsageError
from replay.lsl import LSLReplay
from replay.scenario import Scenario, build_scenario, parse_classes

#: segments named in the start-up line before the rest are only counted
_SHOWN_SEGMENTS = 6
#: seconds the outlets stay open after a speed-0 push, so liblsl can deliver it
_LINGER_S = 2.0


def add_parser(sub) -> None:
    p = sub.add_parser(
        "replay",
        help="publish recordings as a live LSL EEG stream (plus a ground-truth marker stream)",
        description="Play recordings one after another in real time (or faster) as an LSL EEG "
        "stream; a '<name>-truth' marker stream marks each recording's class as it starts.",
    )
    src = add_dataset_flags(p)
    src.add_argument("--file", type=Path, help="one EEG file mne reads (EDF, BDF, FIF, ...)")
    pick = p.add_mutually_exclusive_group()
    pick.add_argument("--scenario", metavar="CLASSES",
                      help="classes to play in order, one recording each, e.g. "
                      "normal,tumor,seizure (default: every recording)")
    pick.add_argument("--recordings", metavar="IDS", help="recording ids to play, comma-separated")
    p.add_argument("--seed", type=int, default=0, help="seed for choosing --scenario recordings")
    p.add_argument("--name", default="SeizureMonitorReplay", help="LSL stream name")
    p.add_argument("--source-id", help="LSL source_id (default: the name plus a random suffix)")
    p.add_argument("--speed", type=float, default=1.0,
                   help="1 real time, 2 twice as fast, 0 as fast as possible")
    p.add_argument("--loop", action="store_true", help="start over at the end, forever")
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.speed < math.inf:
        raise UsageError(f"--speed must be a number of 0 or more (0: as fast as possible), "
                         f"got {args.speed}.")
    if args.duration is not None and not args.duration > 0:
        raise UsageError(f"--duration must be more than 0 seconds, got {args.duration}.")
    if args.file and args.scenario:
        raise UsageError("--scenario picks recordings by class, but --file is unlabelled; "
                         "drop --scenario or use --csv / --bonn.")
    if args.csv:
        recordings = read_kaggle_csv(args.csv)
    elif args.bonn:
        recordings = read_bonn_dir(args.bonn)
    else:
        recordings = [read_eeg_file(args.file)]
    scenario = build_scenario(
        recordings,
        classes=parse_classes(args.scenario) if args.scenario else None,
        ids=[i.strip() for i in args.recordings.split(",")] if args.recordings else None,
        seed=args.seed,
    )
    replay = LSLReplay(scenario, name=args.name, speed=args.speed, loop=args.loop,
                       source_id=args.source_id)
    with replay:
        print(_describe(replay, args), flush=True)
        try:
            if args.speed == 0:
                # LSL keeps nothing for an inlet that connects later, and speed 0 would push
                # the whole scenario before any could.
                print("speed 0: waiting for an inlet to connect before pushing", file=sys.stderr,
                      flush=True)
                while not replay.wait_for_consumer(0.5):
                    pass
            replay.run(args.duration)
            if args.speed == 0:
                # The push returns before liblsl has sent it all; closing the outlet now would
                # cut the inlet off mid-transfer.
                time.sleep(_LINGER_S)
        except KeyboardInterrupt:
            print(f"stopped: {replay.sent} samples sent", file=sys.stderr)
            return 130
    print(f"done: {replay.sent} samples sent")
    return 0


def _describe(replay: LSLReplay, args: argparse.Namespace) -> str:
    sc: Scenario = replay.scenario
    segments = [f"{s.recording_id} ({s.class_name or 'unknown'})"
                for s in sc.segments[:_SHOWN_SEGMENTS]]
    if len(sc.segments) > _SHOWN_SEGMENTS:
        segments.append(f"and {len(sc.segments) - _SHOWN_SEGMENTS} more")
    speed = "as fast as possible" if args.speed == 0 else f"speed {args.speed:g}"
    return (
        f"publishing LSL stream {replay.name!r} (source_id {replay.source_id!r}, truth markers "
        f"on {replay.name + '-truth'!r}): {len(sc.channels)} channel(s) "
        f"{','.join(sc.channels)} at {sc.sample_rate:g} Hz, {sc.duration:.1f} s of EEG in "
        f"{len(sc.segments)} segment(s): {', '.join(segments)}; {speed}"
        + ("; looping" if args.loop else "")
    )
