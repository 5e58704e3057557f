"""The data readers on real data (the shipped subsets) and on every kind of broken input."""

from __future__ import annotations

import csv
import shutil
import tempfile
import warnings
from collections import Counter
from pathlib import Path

import mne
import numpy as np
import pytest
from helpers import DATA, HEADER, MALFORMED, SUBSET, csv_row, write_csv
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from model.data import (
    BONN_RATE,
    CHUNK,
    DataError,
    Recording,
    read_bonn_dir,
    read_eeg_file,
    read_kaggle_csv,
    read_recordings,
)

BONN = DATA / "bonn"
#: Kaggle y -> (Bonn set, class index): the mapping the whole project relies on.
EXPECTED = {1: ("S", 0), 2: ("F", 1), 3: ("N", 2), 4: ("O", 2), 5: ("Z", 2)}


# --- the Kaggle CSV, real data ---------------------------------------------------------------


def test_subset_has_forty_whole_recordings(recordings: list[Recording]) -> None:
    assert len(recordings) == 40
    assert {r.n_samples for r in recordings} == {23 * CHUNK}
    assert all(r.data.shape == (1, 4094) and r.data.dtype == np.float32 for r in recordings)
    assert len({r.id for r in recordings}) == 40
    assert Counter(r.bonn_set for r in recordings) == {s: 8 for s, _ in EXPECTED.values()}


def test_subset_labels_and_chunk_order_match_the_rows(recordings: list[Recording]) -> None:
    """Row X<c>'s column X<k+1> is sample (c-1)*178+k of its recording, with its y's label."""
    by_id = {r.id: r for r in recordings}
    with SUBSET.open(newline="") as f:
        rows = list(csv.reader(f))[1:]
    assert len(rows) == 40 * 23
    seen: Counter[str] = Counter()
    for cells in rows:
        chunk, name = cells[0].split(".", 1)
        y = int(cells[-1])
        bonn_set, label = EXPECTED[y]
        rec = by_id[f"{bonn_set}:{name}"]
        assert (rec.bonn_set, rec.label) == (bonn_set, label)
        c = int(chunk[1:])
        offset = (c - 1) * CHUNK
        expected = np.array(cells[1:-1], dtype=np.float32)
        np.testing.assert_array_equal(rec.data[0, offset : offset + CHUNK], expected)
        seen[rec.id] += 1
    assert set(seen.values()) == {23}


def test_rows_with_unparseable_ids_become_one_second_recordings(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path / "loose.csv",
        [csv_row("X1.V1.5", 1), csv_row("chunk-a", 2, 100), csv_row("X2.V1.5", 1, CHUNK),
         csv_row("X.b", 3)],
    )
    with pytest.warns(UserWarning, match="2 row") as record:
        recordings = read_kaggle_csv(path)
    assert len(record) == 1
    assert str(path) in str(record[0].message)
    whole = [r for r in recordings if r.id == "S:V1.5"]
    assert len(whole) == 1 and whole[0].n_samples == 2 * CHUNK
    np.testing.assert_array_equal(whole[0].data[0], np.arange(2 * CHUNK))
    loose = sorted((r for r in recordings if r.id != "S:V1.5"), key=lambda r: r.id)
    assert [(r.n_samples, r.bonn_set, r.label) for r in loose] == [(CHUNK, "F", 1), (CHUNK, "N", 2)]
    np.testing.assert_array_equal(loose[0].data[0], np.arange(100, 100 + CHUNK))


def test_missing_chunks_split_a_recording_into_unbroken_runs(tmp_path: Path) -> None:
    chunks = [1, 2, 4, 5, 6]
    rows = [csv_row(f"X{c}.V7", 5, (c - 1) * CHUNK) for c in reversed(chunks)]
    path = write_csv(tmp_path / "gaps.csv", [*rows, csv_row("X1.V8", 5)])
    with pytest.warns(UserWarning, match="1 recording") as record:
        recordings = read_kaggle_csv(path)
    assert len(record) == 1
    by_id = {r.id: r for r in recordings}
    assert set(by_id) == {"Z:V7#1", "Z:V7#4", "Z:V8"}
    np.testing.assert_array_equal(by_id["Z:V7#1"].data[0], np.arange(2 * CHUNK))
    np.testing.assert_array_equal(by_id["Z:V7#4"].data[0], np.arange(3 * CHUNK, 6 * CHUNK))


def test_the_same_name_in_two_classes_is_two_recordings(tmp_path: Path) -> None:
    """The name after X<chunk>. identifies a recording only within its y."""
    path = write_csv(tmp_path / "two.csv", [csv_row("X1.V1", 1), csv_row("X1.V1", 5, 7)])
    recordings = {r.id: r for r in read_kaggle_csv(path)}
    assert set(recordings) == {"S:V1", "Z:V1"}
    assert recordings["Z:V1"].data[0, 0] == 7


def test_a_utf8_bom_before_the_header_is_accepted(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "bom.csv", [csv_row("X1.V1", 2)], header="\ufeff" + HEADER)
    assert [r.id for r in read_kaggle_csv(path)] == ["F:V1"]


@pytest.mark.parametrize("case", MALFORMED)
def test_malformed_csv_raises_data_error_naming_file_and_line(tmp_path: Path, case: str) -> None:
    header, rows, where = MALFORMED[case]
    path = write_csv(tmp_path / "bad.csv", rows, header=header)
    with pytest.raises(DataError, match=where) as err:
        read_kaggle_csv(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.write_bytes(b""), id="empty file"),
        pytest.param(lambda p: p.write_text(HEADER + "\r\n"), id="header only"),
        pytest.param(lambda p: p.mkdir(), id="directory"),
        pytest.param(lambda p: None, id="missing file"),
        pytest.param(lambda p: p.write_bytes(b"\xff\xfe\x00\x81" * 50), id="binary file"),
    ],
)
def test_unusable_csv_file_raises_data_error_naming_it(tmp_path: Path, make) -> None:
    path = tmp_path / "x.csv"
    make(path)
    with pytest.raises(DataError) as err:
        read_kaggle_csv(path)
    assert str(path) in str(err.value)


def test_read_recordings_needs_exactly_one_source() -> None:
    with pytest.raises(DataError, match="exactly one"):
        read_recordings()
    with pytest.raises(DataError, match="exactly one"):
        read_recordings(SUBSET, BONN)


# --- fuzzing the CSV reader ------------------------------------------------------------------

#: A valid file of 3 rows in the Kaggle layout (two recordings, one with a missing chunk).
FUZZ_BASE = ("\r\n".join([HEADER, csv_row("X1.V1.4", 1), csv_row("X3.V1.4", 1),
                         csv_row("X2.V2", 4)]) + "\r\n").encode()
FRAGMENTS = [b",", b"\r\n", b"\n", b"\r", b'"', b"X", b"X1.", b"X0.V", b".", b"-", b"e9",
             b"nan", b"inf", b" ", b"\x00", b"\xff", b"\xef\xbb\xbf", b"7", b"1", b"6", b"y",
             "\u0663".encode(), b"1_0"]


@st.composite
def mutated_csv(draw: st.DrawFn) -> bytes:
    """The base file after a few random cuts, insertions, overwrites and line reshuffles.

    Most edits land after the header, where a broken file still gets as far as the rows.
    """
    data = bytearray(FUZZ_BASE)
    body = len(HEADER) + 2
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["delete", "insert", "overwrite", "lines"]))
        first = 0 if draw(st.integers(0, 7)) == 0 else min(body, len(data))
        at = draw(st.integers(first, len(data)))
        if op == "delete":
            del data[at : at + draw(st.integers(1, 8) | st.integers(1, 400))]
        elif op == "lines":
            head, *lines = bytes(data).split(b"\r\n")
            lines = draw(st.lists(st.sampled_from(lines), max_size=6)) if lines else []
            data = bytearray(b"\r\n".join([head, *lines]))
        else:
            piece = draw(st.sampled_from(FRAGMENTS) | st.binary(min_size=1, max_size=8))
            data[at : at + (len(piece) if op == "overwrite" else 0)] = piece
    return bytes(data)


def _read_fuzzed(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fuzz.csv"
        path.write_bytes(content)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                recordings = read_kaggle_csv(path)
            except DataError as err:
                assert str(path) in str(err)
                return
    assert recordings and all(isinstance(r, Recording) for r in recordings)
    assert all(np.isfinite(r.data).all() and r.n_samples % CHUNK == 0 for r in recordings)


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutated_csv())
@example(FUZZ_BASE.replace(b",73,", b",7e94,", 1))
def test_fuzzed_csv_parses_or_raises_data_error(content: bytes) -> None:
    _read_fuzzed(content)


# --- the original Bonn folders ---------------------------------------------------------------


def test_bonn_folder_reader_reads_one_file_per_set() -> None:
    recordings = read_bonn_dir(BONN)
    assert sorted(r.id for r in recordings) == ["F001", "N001", "O001", "S001", "Z001"]
    for rec in recordings:
        assert rec.id[0] == rec.bonn_set
        assert rec.label == {s: c for s, c in EXPECTED.values()}[rec.bonn_set]
        assert rec.sample_rate == BONN_RATE
        lines = Path(rec.source).read_text().split()
        np.testing.assert_array_equal(rec.data[0], np.array(lines, dtype=np.float32))
        assert rec.n_samples == 4097


@pytest.mark.parametrize("bad", ["12;", "nan", "1e39"])
def test_bad_line_in_a_bonn_file_names_file_and_line(tmp_path: Path, bad: str) -> None:
    root = tmp_path / "bonn"
    shutil.copytree(BONN, root)
    file = root / "N" / "N001.txt"
    lines = file.read_text().splitlines()
    lines[9] = bad
    file.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="line 10") as err:
        read_bonn_dir(root)
    assert str(file) in str(err.value)


def test_bonn_folder_without_sets_raises_data_error(tmp_path: Path) -> None:
    (tmp_path / "Q").mkdir()
    with pytest.raises(DataError, match=str(tmp_path)):
        read_bonn_dir(tmp_path)
    with pytest.raises(DataError, match="not a directory"):
        read_bonn_dir(SUBSET)


# --- any file mne reads ----------------------------------------------------------------------


def test_read_eeg_file_reads_fif_in_microvolts_eeg_channels_only(tmp_path: Path) -> None:
    rate = 256.0
    volts = np.random.default_rng(0).normal(0, 50e-6, size=(3, 1000))
    info = mne.create_info(["Fp1", "Cz", "ECG"], rate, ["eeg", "eeg", "ecg"])
    path = tmp_path / "sub01_raw.fif"
    mne.io.RawArray(volts, info, verbose="error").save(path, verbose="error")
    rec = read_eeg_file(path)
    assert rec.channels == ("Fp1", "Cz")
    assert rec.sample_rate == rate
    assert rec.label is None and rec.id == "sub01_raw"
    np.testing.assert_allclose(rec.data, volts[:2] * 1e6, rtol=1e-5)


def test_read_eeg_file_rejects_unreadable_and_missing_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.edf"
    junk.write_bytes(np.random.default_rng(1).bytes(4096))
    with pytest.raises(DataError, match="mne cannot read") as err:
        read_eeg_file(junk)
    assert str(junk) in str(err.value)
    with pytest.raises(DataError, match="no such file"):
        read_eeg_file(tmp_path / "missing.fif")
