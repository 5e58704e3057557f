"""The model comparison (model/compare.py): one seed gives one result."""

from __future__ import annotations

from functools import partial

from model.compare import CompareConfig, _score_recordings, build_variant, fit
from model.train import TrainConfig
from model.windows import random_windows


def test_one_seed_gives_one_result(recordings):
    """Initialisation, windows and order all follow the run's seed, whatever ran before."""
    train, held_out = recordings[::8], recordings[1::20]
    cfg = CompareConfig(train=TrainConfig(epochs=1, windows_per_recording=4, threads=1))

    def once(seed: int) -> list[dict]:
        return fit(partial(build_variant, "gru", "moving-average", train),
                   partial(random_windows, train, 4, 120),
                   partial(_score_recordings, held_out, 120), cfg, seed).history

    first = once(3)
    once(4)  # moves the global torch generator on
    assert once(3) == first
