"""The ward from the command line: real `seizure-monitor run --publish` bedsides in subprocesses
(killed with -9, given a wrong password, claiming a patient id twice), the ward's own errors,
the patient id in the LSL outputs' names, and liblsl's log lines kept off stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pylsl
from helpers import wait_until

from monitor.cli import main
from monitor.ward.connection import RedisTarget
from monitor.ward.keys import PatientKeys
from monitor.ward.publisher import RedisPublisher
from monitor.ward.station import Station

ROOT = Path(__file__).parent.parent
#: a replay that raises a seizure alert within a second of stream
SEIZURE_FIRST = ["--scenario", "seizure,normal,normal", "--seed", "0"]
#: a replay over in a second or two: one seizure alert, on and off
SHORT = ["--scenario", "seizure,normal", "--speed", "0"]


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", *args]


def _env(**extra: str) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen")
    env.pop("SEIZURE_MONITOR_REDIS_URL", None)
    env.pop("SEIZURE_MONITOR_REDIS_PASSWORD", None)
    env.update(extra)
    return env


def test_bedside_killed_minus_9_is_offline_at_the_ward_with_its_alerts(redis_server, tmp_path):
    events: list[dict] = []
    ward = Station(RedisTarget.resolve(redis_server.url), events.append, offline_after_s=3.0,
                   block_ms=200).start()
    log, err = tmp_path / "events.jsonl", tmp_path / "stderr.txt"
    with err.open("w") as err_file:
        bed = subprocess.Popen(
            _cli("run", "--headless", "--no-predictions", *SEIZURE_FIRST, "--speed", "2",
                 "--loop", "--events", str(log), "--publish", redis_server.url, "--patient",
                 "bed-k", "--label", "Bed K"),
            env=_env(), stdout=subprocess.DEVNULL, stderr=err_file)
    try:
        def alerts() -> list[dict]:
            return [e for e in list(events) if e["type"] == "alert"]

        wait_until(lambda: alerts() or bed.poll() is not None, timeout=60,
                   what="the seizure alert at the ward")
        assert bed.poll() is None, err.read_text()
        wait_until(lambda: ward.state.patients["bed-k"].p is not None, what="a trend")
        bed.send_signal(signal.SIGKILL)
        bed.wait(10)
        killed = time.monotonic()
        wait_until(lambda: any(e["type"] == "offline" for e in list(events)), timeout=10,
                   what="the monitor shown offline")
        assert time.monotonic() - killed < 6.0
        st = ward.state.patients["bed-k"]
        assert st.offline and st.label == "Bed K" and st.urgent() is not None
        # every alert in the bedside's own log is at the ward, once
        logged = [json.loads(line) for line in log.read_text().splitlines()]
        logged_alerts = [(e["class"], e["state"]) for e in logged if e["type"] == "alert"]
        assert [(e["class"], e["state"]) for e in alerts()] == logged_alerts
        assert ward.state.duplicates == 0
        # the dead monitor's claim lapses: a new one may take the id after a few seconds
        pub = RedisPublisher(RedisTarget.resolve(redis_server.url), "bed-k")
        wait_until(lambda: _claimable(pub), timeout=10, what="the claim to lapse")
    finally:
        if bed.poll() is None:
            bed.kill()
        ward.stop()


def _claimable(pub: RedisPublisher) -> bool:
    try:
        return pub.claim_now() is None
    except ValueError:
        return False


def test_wrong_password_is_a_warning_and_never_printed(redis_factory, tmp_path):  # noqa: F811
    server = redis_factory(password="right-pw-123")
    wrong = server.url.replace("right-pw-123", "wrong-pw-456")
    log = tmp_path / "events.jsonl"
    res = subprocess.run(
        _cli("run", "--headless", "--no-predictions", *SHORT, "--events", str(log),
             "--publish", wrong, "--patient", "bed-p"),
        env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    everything = res.stdout + res.stderr + log.read_text()
    assert "wrong-pw-456" not in everything and "right-pw-123" not in everything
    warning = [line for line in res.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and ":***@" in warning[0] and "refused the password" in warning[0]
    statuses = [json.loads(line) for line in res.stdout.splitlines()]
    offline = [s for s in statuses if s.get("event") == "publish_offline"]
    assert offline and "refused the password" in offline[0]["detail"]
    assert statuses[-1]["event"] == "stopped"  # monitoring went on to the end


def test_password_from_the_environment_and_the_ward_reads_it(redis_factory, monkeypatch,  # noqa: F811
                                                             capsys):
    server = redis_factory(password="env-pw-789")
    env = _env(SEIZURE_MONITOR_REDIS_URL=server.url)
    res = subprocess.run(_cli("run", "--headless", "--no-predictions", *SHORT, "--publish",
                              "--patient", "bed-e"),
                         env=env, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "env-pw-789" not in res.stderr + res.stdout, res.stderr
    monkeypatch.setenv("SEIZURE_MONITOR_REDIS_URL", server.url)
    assert main(["ward", "--headless", "--duration", "1.5"]) == 0
    out = capsys.readouterr()
    lines = [json.loads(line) for line in out.out.splitlines()]
    alerts = [e for e in lines if e["type"] == "alert" and e["patient"] == "bed-e"]
    assert [(e["class"], e["state"]) for e in alerts] == [("seizure", "on"), ("seizure", "off")]
    assert "env-pw-789" not in out.out + out.err


def test_ward_with_a_wrong_password_is_one_line_exit_2(redis_factory, capsys):  # noqa: F811
    server = redis_factory(password="pw-abc")
    assert main(["ward", "--headless", "--redis", server.url.replace("pw-abc", "nope-xyz"),
                 "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "nope-xyz" not in err
    assert err.startswith("seizure-monitor ward: error: redis://:***@127.0.0.1:")


def test_second_monitor_on_one_patient_id_is_refused(redis_server, capsys):
    holder = RedisPublisher(RedisTarget.resolve(redis_server.url), "bed-c")
    assert holder.claim_now() is None
    holder.start()
    try:
        assert main(["run", "--headless", *SHORT, "--publish", redis_server.url,
                     "--patient", "bed-c"]) == 2
        out = capsys.readouterr()
        assert out.out == "" and out.err.count("\n") == 1
        assert "bed-c" in out.err and "--take-over" in out.err
        for bad, why in ((["--publish", redis_server.url], "--patient"),
                         (["--patient", "x y"], "patient id"),
                         (["--label", "L"], "--publish")):
            assert main(["run", "--headless", *SHORT, *bad]) == 2
            assert why in capsys.readouterr().err
    finally:
        holder.close()
        holder.join()
    claim = redis_server.client().get(PatientKeys("bed-c").claim)
    assert claim is None  # released on close


def test_lsl_outputs_carry_the_patient_id_and_liblsl_stays_quiet(tmp_path):
    err = tmp_path / "stderr.txt"
    with err.open("w") as err_file:
        bed = subprocess.Popen(
            _cli("run", "--headless", "--no-predictions", "--speed", "1", "--loop",
                 "--lsl-out", "--patient", "bed-l"),
            env=_env(), stdout=subprocess.DEVNULL, stderr=err_file)
    try:
        found = pylsl.resolve_byprop("name", "seizure-monitor-bed-l-alerts", timeout=30)
        assert found and found[0].source_id() == "seizure-monitor-bed-l-alerts"
        probs = pylsl.resolve_byprop("source_id", "seizure-monitor-bed-l-probabilities",
                                     timeout=10)
        assert probs and probs[0].name() == "seizure-monitor-bed-l-probabilities"
    finally:
        bed.send_signal(signal.SIGINT)
        bed.wait(20)
    text = err.read_text()
    assert "INFO|" not in text and "Loaded default config" not in text, text
    res = subprocess.run(_cli("run", "--headless", "--no-predictions", *SHORT, "--lsl-out",
                              "--verbose"),
                         env=_env(), capture_output=True, text=True, timeout=120)
    assert res.returncode == 0 and "INFO|" in res.stderr
