"""`seizure-monitor inspect` (monitor/commands/inspect.py) end to end on the real subset."""

from __future__ import annotations

import json

import pytest
from helpers import SUBSET

from monitor.cli import main


def test_inspect_writes_plot_json_and_stability(trained_checkpoint, recordings, tmp_path,
                                                capsys):
    first = next(r for r in recordings if r.bonn_set == "N")
    second = next(r for r in recordings if r.bonn_set == "F")
    png, out_json = tmp_path / "n.png", tmp_path / "n.json"
    code = main(["inspect", "--csv", str(SUBSET), "--recording", first.id,
                 "--compare", second.id, "--checkpoint", str(trained_checkpoint),
                 "--out", str(png), "--json", str(out_json)])
    assert code == 0
    assert png.stat().st_size > 10_000
    text = capsys.readouterr().out
    assert "How stable is one prediction" in text
    assert f"{first.id} (set N, truth normal)" in text
    data = json.loads(out_json.read_text())
    assert [d["recording"] for d in data] == [first.id, second.id]
    for d in data:
        # 4094 samples: windows at hop 18, and 23 one-second rows of 59 slices each
        assert d["windows"] == len(d["probabilities"]) == (4094 - 120) // 18 + 1
        assert len(d["stability"]) == 23
        for row in d["stability"]:
            assert sum(row["predicted"].values()) == pytest.approx(1.0)
            assert 0 <= row["flips"] <= 58
            assert 0.0 <= row["disagreement"] < 1.0


def test_inspect_accepts_a_csv_row_id(trained_checkpoint, recordings, tmp_path, capsys):
    rec = recordings[0]
    name = rec.id.split(":", 1)[1]
    code = main(["inspect", "--csv", str(SUBSET), "--recording", f"X7.{name}",
                 "--checkpoint", str(trained_checkpoint), "--out", str(tmp_path / "r.png")])
    assert code == 0
    assert rec.id in capsys.readouterr().out


def test_unknown_recording_is_a_one_line_error(trained_checkpoint, tmp_path, capsys):
    code = main(["inspect", "--csv", str(SUBSET), "--recording", "Q:nope",
                 "--checkpoint", str(trained_checkpoint), "--out", str(tmp_path / "x.png")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "'Q:nope' is not in" in err and "bonn_subset.csv" in err
    assert not (tmp_path / "x.png").exists()
