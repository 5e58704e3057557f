"""Shared fixtures: the test subset's recordings and a trained checkpoint. Plain helpers the
tests import are in helpers.py.

Test files are named after the module they test: tests/test_<path>.py tests the module <path>
below its top-level package (monitor, model or replay; their module names do not collide), dots
as underscores: test_measure_scoring.py tests monitor/measure/scoring.py, test_lsl.py
replay/lsl.py. Tests that run a subcommand (through ``main()`` or a subprocess) are named after
the command's module, test_commands_<name>.py. Tests that cross the whole monitor keep a
descriptive name, said in their docstring.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SUBSET

from monitor.measure.redis_server import LocalRedis


@pytest.fixture(scope="module")
def recordings():
    """The 40 real recordings of the test subset."""
    from model.data import read_kaggle_csv

    return read_kaggle_csv(SUBSET)


@pytest.fixture(scope="module")
def classifier(trained_checkpoint: Path):
    """A loaded classifier that tells seizures from normal EEG (one per test module)."""
    from model.checkpoint import load_classifier

    return load_classifier(trained_checkpoint)


@pytest.fixture(scope="session")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint that tells seizures from normal EEG: the shipped one if it exists, else one
    trained once per session on the test subset (one torch thread: two are far slower on a
    busy 2-core machine)."""
    from model.checkpoint import data_fingerprint, save_checkpoint, shipped_checkpoint
    from model.data import BONN_RATE, read_kaggle_csv
    from model.train import TrainConfig, config_dict, train

    shipped = shipped_checkpoint()
    if shipped.is_file():
        return shipped
    recordings = read_kaggle_csv(SUBSET)
    cfg = TrainConfig(epochs=6, windows_per_recording=48, threads=1)
    result = train(recordings, None, cfg, progress=False)
    path = tmp_path_factory.mktemp("checkpoint") / "seizure_test.pt"
    save_checkpoint(path, result.net, sample_rate=BONN_RATE,
                    fingerprint=data_fingerprint(recordings),
                    metrics={"note": "test fixture"}, training={"config": config_dict(cfg)})
    return path


@pytest.fixture(scope="session")
def split_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A checkpoint trained for a few seconds on a grouped split, with its validation ids."""
    from model.checkpoint import data_fingerprint, save_checkpoint
    from model.data import BONN_RATE, read_kaggle_csv
    from model.train import TrainConfig, config_dict, train
    from model.windows import grouped_split

    train_recs, val_recs = grouped_split(read_kaggle_csv(SUBSET), 0.25, seed=0)
    cfg = TrainConfig(epochs=1, seed=0, windows_per_recording=16, batch_size=32, threads=1)
    result = train(train_recs, None, cfg, progress=False)
    ids = [r.id for r in val_recs]
    path = tmp_path_factory.mktemp("ckpt") / "split.pt"
    save_checkpoint(path, result.net, sample_rate=BONN_RATE,
                    fingerprint=data_fingerprint(train_recs), metrics={},
                    training={"config": config_dict(cfg), "validation_ids": ids})
    return path, ids


@pytest.fixture(name="redis_factory")
def redis_factory_fixture(tmp_path):
    """Start servers with options (``password=``, ``appendonly=``); all stopped at the end."""
    servers: list[LocalRedis] = []

    def make(**kwargs) -> LocalRedis:
        server = LocalRedis(tmp_path / f"redis{len(servers)}", **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture(name="redis_server")
def redis_server_fixture(redis_factory) -> LocalRedis:
    """A plain server: no password, no persistence."""
    return redis_factory()


@pytest.fixture
def make_window(qtbot, classifier, tmp_path):
    """Dashboard windows on the shared classifier, closed and shut down after the test."""
    from monitor.settings import MonitorSettings
    from monitor.ui.window import MainWindow

    windows: list[MainWindow] = []

    def make(settings: MonitorSettings | None = None, find_streams: bool = False,
             **kw) -> MainWindow:
        kw.setdefault("events", tmp_path / "events.jsonl")
        w = MainWindow(settings or MonitorSettings(), classifier, find_streams=find_streams,
                       **kw)
        qtbot.addWidget(w)
        w.resize(1400, 900)
        w.show()
        windows.append(w)
        return w

    yield make
    for w in windows:
        w.close()
        w.shutdown()
