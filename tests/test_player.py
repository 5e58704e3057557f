"""The replay Player (replay/player.py): pacing against a clock the test sets by hand."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import counter_scenario

from replay.player import Player


class FakeClock:
    """A clock the test sets by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_pacing_is_drift_free_under_jittery_pulls() -> None:
    sc = counter_scenario(n=5000, rate=250.0)
    clock = FakeClock()
    player = Player(sc, clock=clock)
    player.start()
    player.start()  # harmless: keeps the first t0
    t0 = clock.now
    rng = np.random.default_rng(0)
    received = []
    while clock.now - t0 < 15:
        clock.now += rng.uniform(0, 0.05)
        chunk = player.pull()
        assert chunk.start == player.sent - len(chunk)
        received.append(chunk.data[0])
        assert player.sent == int(np.floor((clock.now - t0) * 250.0))
    np.testing.assert_array_equal(np.concatenate(received), np.arange(player.sent))


def test_nothing_due_gives_an_empty_chunk_and_speed_scales_time() -> None:
    clock = FakeClock()
    player = Player(counter_scenario(rate=100.0), speed=2.0, clock=clock)
    player.start()
    assert len(player.pull()) == 0
    clock.now += 1.0
    chunk = player.pull()
    assert (chunk.start, len(chunk)) == (0, 200)
    assert chunk.truth.shape == (200,)


def test_a_late_pull_catches_up_and_the_end_is_reported() -> None:
    sc = counter_scenario(n=500, rate=100.0)
    clock = FakeClock()
    player = Player(sc, clock=clock)
    player.start()
    clock.now += 60.0
    chunk = player.pull()
    np.testing.assert_array_equal(chunk.data, sc.data)
    np.testing.assert_array_equal(chunk.truth, sc.truth)
    assert player.finished and player.pull() is None


def test_speed_zero_hands_out_max_chunk_per_pull() -> None:
    sc = counter_scenario(n=500)
    player = Player(sc, speed=0, max_chunk=64, clock=lambda: 0.0)
    player.start()
    lengths = []
    while (chunk := player.pull()) is not None:
        lengths.append(len(chunk))
    assert lengths == [64] * 7 + [500 - 7 * 64]
    assert player.sent == 500 and player.finished


def test_loop_wraps_with_a_growing_stream_index_and_the_truth_follows() -> None:
    sc = counter_scenario(n=500)
    player = Player(sc, speed=0, loop=True, max_chunk=300, clock=lambda: 0.0)
    player.start()
    chunks = [player.pull() for _ in range(5)]
    assert [c.start for c in chunks] == [0, 300, 600, 900, 1200]
    index = np.arange(1500)
    np.testing.assert_array_equal(np.concatenate([c.data[0] for c in chunks]), index % 500)
    np.testing.assert_array_equal(np.concatenate([c.truth for c in chunks]), sc.truth[index % 500])
    assert not player.finished


def test_player_refuses_bad_use() -> None:
    sc = counter_scenario()
    with pytest.raises(ValueError, match="speed must be"):
        Player(sc, speed=-1)
    with pytest.raises(RuntimeError, match="call start"):
        Player(sc).pull()
