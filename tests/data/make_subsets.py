"""Cut the small real-data files the repo ships from the full data set (run once, by hand).

Tests and CI must not need the full data, so they read these subsets instead:

- ``tests/data/bonn_subset.csv``: 8 whole recordings (all 23 rows) per Kaggle ``y``, chosen
  with a fixed seed; 40 recordings, 920 rows.
- ``assets/demo.csv``: 2 whole recordings per ``y`` for the bundled demo, none of them in
  the test subset, each the one whose amplitude (standard deviation) is closest to its class
  median, so the demo shows a typical seizure rather than the quietest one.
- ``tests/data/bonn/<set>/<set>001.txt``: the first original Bonn file of each set.

CSV rows are copied byte for byte (header, CRLF line ends) and keep the original file's row
order, so the subsets have exactly the layout of the public file, shuffling included.

Usage: ``python tests/data/make_subsets.py [/path/to/data]`` (default ``/work/shared/data``).
Re-running it reproduces the same files.
"""

from __future__ import annotations

import random
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

SEED = 20010601  # fixed: the subsets must be reproducible
TEST_PER_Y = 8
DEMO_PER_Y = 2
BONN_FILES = ("Z/Z001.txt", "O/O001.txt", "N/N001.txt", "F/F001.txt", "S/S001.txt")

REPO = Path(__file__).resolve().parents[2]
CSV_NAME = "Epileptic Seizure Recognition.csv"

Key = tuple[int, str]  # (Kaggle y, row id without its "X<chunk>." prefix)


def recording_key(line: bytes) -> Key:
    """The recording a row belongs to: ``y`` and the id after ``X<chunk>.``."""
    cells = line.split(b",")
    return int(cells[-1]), cells[0].decode().split(".", 1)[1]


def choose_test(keys: list[Key], rng: random.Random) -> set[Key]:
    """``TEST_PER_Y`` recordings per ``y``, drawn with the seeded generator."""
    chosen: set[Key] = set()
    for y in range(1, 6):
        pool = sorted(k for k in keys if k[0] == y)
        chosen.update(rng.sample(pool, TEST_PER_Y))
    return chosen


def choose_demo(amplitude: dict[Key, float], exclude: set[Key]) -> set[Key]:
    """Per ``y``, the ``DEMO_PER_Y`` unused recordings with the most typical amplitude."""
    chosen: set[Key] = set()
    for y in range(1, 6):
        pool = sorted(k for k in amplitude if k[0] == y and k not in exclude)
        median = float(np.median([amplitude[k] for k in pool]))
        chosen.update(sorted(pool, key=lambda k: (abs(amplitude[k] - median), k))[:DEMO_PER_Y])
    return chosen


def write_rows(path: Path, header: bytes, rows: list[bytes], keep: set[Key], eol: bytes) -> None:
    kept = [r for r in rows if recording_key(r) in keep]
    path.write_bytes(eol.join([header, *kept]) + eol)
    print(f"wrote {path.relative_to(REPO)}: {len(keep)} recordings, {len(kept)} rows")


def main(data: Path) -> None:
    raw = (data / CSV_NAME).read_bytes()
    eol = b"\r\n" if b"\r\n" in raw[:4096] else b"\n"
    header, *rows = [r for r in raw.split(eol) if r]
    samples: dict[Key, list[float]] = defaultdict(list)
    for r in rows:
        samples[recording_key(r)] += [float(v) for v in r.split(b",")[1:-1]]
    amplitude = {k: float(np.std(v)) for k, v in samples.items()}
    test = choose_test(sorted(samples), random.Random(SEED))
    demo = choose_demo(amplitude, exclude=test)
    write_rows(REPO / "tests/data/bonn_subset.csv", header, rows, test, eol)
    write_rows(REPO / "assets/demo.csv", header, rows, demo, eol)
    for name in BONN_FILES:
        target = REPO / "tests/data/bonn" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / "bonn" / name, target)
        print(f"copied {target.relative_to(REPO)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/work/shared/data"))
