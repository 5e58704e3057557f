"""Scenarios (replay/scenario.py) built from the real recordings: truth per sample, picks by
class and by id, and the refusals."""

from __future__ import annotations

import numpy as np
import pytest

from model.data import CLASSES, DataError, Recording
from replay.scenario import build_scenario, parse_classes


def test_parse_classes() -> None:
    assert parse_classes("normal, Normal,tumor,seizure") == ["normal", "normal", "tumor",
                                                             "seizure"]
    with pytest.raises(DataError, match=r"'sleep'.*seizure, tumor, normal"):
        parse_classes("normal,sleep")


def test_all_recordings_in_order_with_truth_per_sample(recordings) -> None:
    sc = build_scenario(recordings)
    assert sc.n_samples == sum(r.n_samples for r in recordings)
    assert sc.data.dtype == np.float32 and sc.truth.dtype == np.int8
    assert sc.sample_rate == 178.0 and sc.channels == ("EEG",)
    assert [s.recording_id for s in sc.segments] == [r.id for r in recordings]
    assert sc.segments[0].start == 0 and sc.segments[-1].stop == sc.n_samples
    for seg, rec in zip(sc.segments, recordings, strict=True):
        np.testing.assert_array_equal(sc.data[:, seg.start:seg.stop], rec.data)
        assert (sc.truth[seg.start:seg.stop] == rec.label).all()
        assert seg.class_name == CLASSES[rec.label]
    for a, b in zip(sc.segments, sc.segments[1:], strict=False):
        assert a.stop == b.start


def test_classes_pick_without_repeats_and_follow_the_seed(recordings) -> None:
    n_seizure = sum(r.class_name == "seizure" for r in recordings)
    classes = ["normal", "tumor"] + ["seizure"] * (n_seizure + 1)
    sc = build_scenario(recordings, classes=classes, seed=3)
    assert [s.class_name for s in sc.segments] == classes
    seizure_ids = [s.recording_id for s in sc.segments[2:]]
    # Every seizure recording once before any comes back.
    assert len(set(seizure_ids[:n_seizure])) == n_seizure
    assert seizure_ids[-1] in seizure_ids[:n_seizure]
    again = build_scenario(recordings, classes=classes, seed=3)
    assert again.segments == sc.segments
    np.testing.assert_array_equal(again.data, sc.data)
    assert (sc.truth[: sc.segments[0].stop] == CLASSES.index("normal")).all()
    other = [build_scenario(recordings, classes=classes, seed=s).segments for s in range(4, 8)]
    assert any(o != sc.segments for o in other)


def test_ids_pick_in_the_given_order(recordings) -> None:
    ids = [recordings[5].id, recordings[0].id, recordings[5].id]
    sc = build_scenario(recordings, ids=ids)
    assert [s.recording_id for s in sc.segments] == ids
    np.testing.assert_array_equal(sc.data[:, : recordings[5].n_samples], recordings[5].data)


def test_unknown_class_and_id_are_named(recordings) -> None:
    with pytest.raises(DataError, match=r"'sleep'.*seizure, tumor, normal"):
        build_scenario(recordings, classes=["sleep"])
    with pytest.raises(DataError, match=r"'Q:nope'.*40 recording\(s\).*'S:"):
        build_scenario(recordings, ids=["Q:nope"])
    normals = [r for r in recordings if r.class_name == "normal"]
    with pytest.raises(DataError, match=r"no labelled 'seizure'.*present: normal"):
        build_scenario(normals, classes=["seizure"])


def test_unlabelled_recording_by_id_has_unknown_truth(recordings) -> None:
    free = Recording("free", recordings[0].data, 178.0)
    sc = build_scenario([recordings[0], free], ids=[recordings[0].id, "free"])
    assert sc.segments[1].class_name is None
    assert (sc.truth[sc.segments[1].start:] == -1).all()
    assert (sc.truth[: sc.segments[1].start] == recordings[0].label).all()
    with pytest.raises(DataError, match="no labelled 'normal'"):
        build_scenario([free], classes=["normal"])


def test_mixed_rates_or_channel_counts_are_refused(recordings) -> None:
    rec = recordings[0]
    slower = Recording("slow", rec.data, 173.61)
    with pytest.raises(DataError, match=r"'slow' is sampled at 173.61 Hz"):
        build_scenario([rec, slower])
    wide = Recording("wide", np.vstack([rec.data, rec.data]), rec.sample_rate)
    with pytest.raises(DataError, match=r"'wide' has 2 channel\(s\)"):
        build_scenario([rec, wide])
