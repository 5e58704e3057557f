"""What a face needs to start the monitor: the source a user asked for, the bundled demo, and
the standard sinks. The command line and the dashboard both build from here, so neither has
to import the other."""

from __future__ import annotations

import importlib.resources
import math
import time
from dataclasses import dataclass
from pathlib import Path

from model.data import read_eeg_file, read_recordings
from monitor.record import Recorder, check_record_path, recording_meta
from monitor.settings import MonitorSettings, UsageError
from monitor.sinks import EventLog, LSLResultSink, Sink
from monitor.sources import LSLSource, ReplaySource, Source
from replay.scenario import build_scenario, parse_classes

DEMO_SCENARIO = "normal,tumor,normal,seizure,normal"
#: seconds to wait for an LSL stream to appear
TIMEOUT_S = 30.0


def demo_csv() -> Path:
    """The bundled demo recordings (assets/demo.csv)."""
    return Path(str(importlib.resources.files("assets") / "demo.csv"))


@dataclass(frozen=True)
class SourceSpec:
    """A source as asked for: a live LSL stream (``lsl``, ``lsl_type``, ``source_id``,
    ``host``), or recordings to replay (``csv``, ``bonn`` or ``file``; none of them: the
    demo). None marks what was not given, so a flag the chosen source has no use for is
    refused rather than ignored."""

    lsl: str | None = None
    lsl_type: str | None = None
    source_id: str | None = None
    host: str | None = None
    timeout: float | None = None
    scale: float | None = None
    csv: Path | None = None
    bonn: Path | None = None
    file: Path | None = None
    scenario: str | None = None
    recordings: str | None = None
    seed: int | None = None
    speed: float | None = None
    loop: bool = False

    @property
    def live(self) -> bool:
        return bool(self.lsl or self.lsl_type or self.source_id)

    @property
    def replay_speed(self) -> float:
        """The replay's speed: real time (1) where none was given."""
        return 1.0 if self.speed is None else self.speed


def build_source(spec: SourceSpec) -> Source:
    """The source; reading recordings can take seconds (call it off a GUI thread). Raises
    UsageError, DataError or FileNotFoundError with a sentence naming the input."""
    speed = spec.replay_speed
    if not 0 <= speed < math.inf:
        raise UsageError(f"--speed must be >= 0 (0 = as fast as possible), got {speed}.")
    files = [f for f in (spec.csv, spec.bonn, spec.file) if f is not None]
    if spec.live and files:
        raise UsageError("give either a live LSL stream or a file to replay, not both.")
    if len(files) > 1:
        raise UsageError("give only one of --csv, --bonn, --file.")
    replay_only = [flag for flag, given in (
        ("--scenario", spec.scenario), ("--recordings", spec.recordings),
        ("--seed", spec.seed is not None), ("--speed", spec.speed is not None),
        ("--loop", spec.loop)) if given]
    lsl_only = [flag for flag, given in (
        ("--host", spec.host), ("--timeout", spec.timeout is not None),
        ("--scale", spec.scale is not None)) if given]
    if spec.live:
        if replay_only:
            raise UsageError(f"{', '.join(replay_only)} set a replay; a live LSL stream "
                             "(--lsl, --lsl-type, --source-id) has no use for them.")
        return LSLSource(spec.lsl, spec.lsl_type, spec.source_id, spec.host,
                         TIMEOUT_S if spec.timeout is None else spec.timeout, spec.scale)
    if lsl_only:
        raise UsageError(f"{', '.join(lsl_only)} pick or read a live LSL stream; name it with "
                         "--lsl, --lsl-type or --source-id (this would replay a file).")
    if spec.scenario and spec.recordings:
        raise UsageError("give --scenario or --recordings, not both.")
    classes = parse_classes(spec.scenario) if spec.scenario else None
    ids = [i.strip() for i in spec.recordings.split(",")] if spec.recordings else None
    if spec.file:
        recordings = [read_eeg_file(spec.file)]
        name = spec.file.stem
    elif files:
        recordings = read_recordings(spec.csv, spec.bonn)
        name = files[0].stem
    else:
        recordings = read_recordings(demo_csv())
        classes = classes or (None if ids else parse_classes(DEMO_SCENARIO))
        name = "demo"
    scenario = build_scenario(recordings, classes, ids, spec.seed or 0)
    return ReplaySource(scenario, speed=speed, loop=spec.loop, name=name)


def standard_sinks(settings: MonitorSettings, events: Path | None, header: dict,
                   lsl_out: bool, printer: Sink | None = None,
                   recorder: Sink | None = None, patient: str | None = None) -> list[Sink]:
    """The event log and the recorder first (so whatever any later sink shows is on disk
    already, even if the process is killed in between), then the printer, then the LSL outlet
    of results (named, with a stable source_id, after the patient when there is one: two
    monitors on one LAN are told apart, and a recorder finds a restarted monitor's streams
    again)."""
    sinks: list[Sink] = []
    if events is not None:
        try:
            sinks.append(EventLog(events, header=header))
        except ValueError as exc:
            raise UsageError(f"{exc} Give --events a writable file path.") from None
    if recorder is not None:
        sinks.append(recorder)
    if printer is not None:
        sinks.append(printer)
    if lsl_out:
        name = f"seizure-monitor-{patient}" if patient else "seizure-monitor"
        sinks.append(LSLResultSink(name, 1.0 / settings.hop_s,
                                   name if patient else f"{name}-{time.time_ns()}"))
    return sinks


def check_record_path_or_refuse(path: Path) -> None:
    """``--record PATH`` checked before anything starts: UsageError naming it."""
    try:
        check_record_path(path)
    except ValueError as exc:
        raise UsageError(str(exc)) from None


def start_recorder(path: Path) -> Recorder:
    """A recorder for ``--record PATH`` (refused now, in one line, where the path cannot
    work); the caller makes it a tap and a sink of its pipeline and wires it with
    :func:`attach_recorder`."""
    try:
        return Recorder(path)
    except ValueError as exc:
        raise UsageError(f"{exc}") from None


def attach_recorder(recorder: Recorder, pipeline) -> None:
    """What the recorder needs from its pipeline: the model and settings for its header,
    where to report a disk error, and (a replay at full speed) leave to wait for the disk."""
    recorder.meta.update(recording_meta(pipeline.settings, pipeline.classifier))
    recorder.on_status = pipeline.report
    recorder.block = pipeline.mode == "lockstep"
    recorder.stale_s = pipeline.settings.stale_s
