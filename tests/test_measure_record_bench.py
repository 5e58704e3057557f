"""The two measuring commands of recording and review run end to end on a tiny scale (their
figures come from the full runs; these check every code path): `bench --record` streams over
real LSL with and without a recorder, and `report --bench` makes an EDF+ and reports on it."""

from __future__ import annotations

import json
from pathlib import Path

from monitor.cli import main
from monitor.measure.bench import BenchConfig
from monitor.measure.record_bench import record_cost


def test_bench_record_measures_both_variants_and_every_recording_is_complete(
        trained_checkpoint: Path) -> None:
    lines: list[str] = []
    result = record_cost(BenchConfig.tiny(), trained_checkpoint, channels=4, rounds=1,
                         log=lines.append)
    assert set(result["p99_ms"]) == {"without", "with"}
    assert all(v is not None for v in result["p99_ms"].values())
    assert result["recordings_intact"] is True
    assert result["capacity_channels"] == {"without": 2, "with": 2}
    assert any("samples recorded" in line for line in lines)


def test_report_bench_writes_its_figures(trained_checkpoint: Path, tmp_path: Path,
                                         capsys) -> None:
    out = tmp_path / "review-bench.json"
    code = main(["report", "--bench", "--minutes", "1", "--channels", "4", "--checkpoint",
                 str(trained_checkpoint), "--json", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    result = json.loads(out.read_text())
    assert result["channels"] == 4 and result["minutes"] == 1.0 and result["hop_s"] == 1.0
    assert result["total_s"] >= result["classify_s"] > 0
    assert "target < 60 s" in printed
