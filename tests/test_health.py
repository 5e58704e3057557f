"""StreamHealth, driven without threads: a made-up wall clock and made-up timestamps."""

from __future__ import annotations

import numpy as np

from monitor.health import JUMP_REPORT_S, RATE_WINDOW_S, VERIFY_EVERY_S, StreamHealth
from monitor.sources import SourceInfo

RATE = 100.0


def _info(kind: str = "lsl") -> SourceInfo:
    return SourceInfo("amp", kind, RATE, ("EEG",), (0,), (1.0,), "amp-1", "host-a")


def _stamps(first: int, n: int, offset: float = 0.0) -> np.ndarray:
    return offset + (first + np.arange(n)) / RATE


def test_silence_longer_than_stale_is_one_loss_and_samples_recover_a_new_segment() -> None:
    h = StreamHealth(_info(), stale_s=1.5, now=0.0)
    assert h.samples(_stamps(0, 10), now=0.1) == []
    assert h.silence(now=1.5) == []  # 1.4 s: not yet
    [lost] = h.silence(now=1.7)
    assert lost.event == "stream_lost" and "'amp'" in lost.detail and "amp-1" in lost.detail
    assert h.lost and h.silence(now=5.0) == []  # reported once
    [back] = h.samples(_stamps(10, 5, offset=4.0), now=5.2)
    assert back.event == "stream_recovered" and "after 5.1 s" in back.detail
    assert not h.lost and h.segment == 1
    # The gap is no jump: timestamps are anchored afresh after it.
    assert h.samples(_stamps(15, 5, offset=4.0), now=5.3) == []


def test_the_producer_is_looked_at_only_while_lost_and_not_more_often_than_every_quarter_s():
    h = StreamHealth(_info(), stale_s=1.0, now=0.0)
    assert not h.verify_due(2.0)
    h.silence(2.0)
    assert h.verify_due(2.01)
    assert not h.verify_due(2.01 + VERIFY_EVERY_S / 2)
    assert h.verify_due(2.01 + VERIFY_EVERY_S)
    h.samples(_stamps(0, 1), now=3.0)
    assert not h.verify_due(10.0)


def test_a_timestamp_jump_is_reported_once_per_quiet_period() -> None:
    h = StreamHealth(_info("replay"), stale_s=1.0, now=0.0)
    assert h.samples(_stamps(0, 50), now=0.0) == []
    [jump] = h.samples(_stamps(50, 50, offset=2.0), now=0.5)
    assert jump.event == "timestamp_jump" and "+2.00 s off" in jump.detail
    assert h.samples(_stamps(100, 50, offset=4.0), now=1.0) == []  # within the quiet time
    [again] = h.samples(_stamps(150, 50, offset=6.0), now=1.0 + JUMP_REPORT_S)
    assert again.event == "timestamp_jump"


def test_a_live_stream_slower_than_declared_is_a_rate_mismatch_a_replay_is_not_measured():
    for kind, expected in (("lsl", ["rate_mismatch"]), ("replay", [])):
        h = StreamHealth(_info(kind), stale_s=5.0, now=0.0)
        events = []
        # 50 samples a second of wall clock against 100 declared, stamped at the declared
        # rate so no jump is seen.
        for k in range(int(RATE_WINDOW_S) + 2):
            events += h.samples(_stamps(50 * k, 50), now=float(k))
        assert [e.event for e in events] == expected
        if kind == "lsl":
            assert h.measured_rate == 50.0 and "delivers 50.0 Hz" in events[0].detail
