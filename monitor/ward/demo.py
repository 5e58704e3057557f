"""``seizure-monitor ward --demo N``: N bedside monitors in this process, each a real pipeline
replaying the bundled demo recordings (a different scenario and seed each) and publishing to
Redis, so the ward can be seen working with one command.

Each patient's scenario is nine recordings (3.5 minutes), looped; patient i's seizure is the
(i + 1)-th of them, so the alarms come one after another rather than all at once, and every
third patient has a tumor recording four places later.
"""

from __future__ import annotations

from dataclasses import dataclass

from model.checkpoint import Classifier, load_classifier
from model.data import read_recordings
from monitor.launch import demo_csv
from monitor.pipeline import Pipeline
from monitor.settings import MonitorSettings
from monitor.sources import ReplaySource
from monitor.ward.connection import RedisTarget
from monitor.ward.publisher import RedisPublisher
from replay.scenario import build_scenario

SLOTS = 9


def demo_classes(i: int) -> list[str]:
    classes = ["normal"] * SLOTS
    classes[(i + 1) % SLOTS] = "seizure"
    if i % 3 == 1:
        classes[(i + 5) % SLOTS] = "tumor"
    return classes


def demo_patient(i: int) -> tuple[str, str]:
    """(patient id, label) of the i-th demo bedside."""
    return f"demo-{i + 1:02d}", f"Bed {i + 1}"


@dataclass
class DemoBedside:
    pipeline: Pipeline
    publisher: RedisPublisher


def start_demo(target: RedisTarget, n: int, speed: float = 1.0,
               settings: MonitorSettings | None = None,
               classifier: Classifier | None = None) -> list[DemoBedside]:
    """Start n replaying bedsides publishing to ``target`` (they take over their demo ids, so
    a demo started again replaces the last one's). One classifier serves them all."""
    settings = settings or MonitorSettings()
    classifier = classifier or load_classifier(settings.checkpoint)
    recordings = read_recordings(demo_csv())
    beds = []
    for i in range(n):
        patient, label = demo_patient(i)
        scenario = build_scenario(recordings, demo_classes(i), seed=i)
        source = ReplaySource(scenario, speed=speed, loop=True, name=f"demo {label}")
        pipeline = Pipeline(source, settings, [], classifier=classifier)
        publisher = RedisPublisher(target, patient, label, take_over=True)
        publisher.attach(pipeline)
        beds.append(DemoBedside(pipeline, publisher))
    for bed in beds:
        bed.publisher.start()
        bed.pipeline.start()
    return beds


def stop_demo(beds: list[DemoBedside], timeout: float = 5.0) -> None:
    for bed in beds:
        bed.pipeline.stop(timeout=0)
    for bed in beds:
        bed.pipeline.wait(timeout)
        bed.publisher.close()
    for bed in beds:
        bed.publisher.join(timeout)
