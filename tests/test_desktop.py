"""The dashboard on a real X server (Xvfb), as a desktop user starts it: Qt's xcb platform, not
offscreen. And where Qt's platform cannot load or reach its display, one line that says what is
missing instead of Qt's abort (SIGABRT, a core dump)."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from monitor.ui import theme
from monitor.ui.banner import STATES
from monitor.ui.qt_platform import PlatformCheck, qt_candidates

ROOT = Path(__file__).parent.parent
#: what a Debian 12 desktop without them shows (issue 25): Qt 6.5+ needs all three
HIDDEN = ("libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1")

# Starts Qt the way the dashboard does; no core file when it aborts.
QT_START = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    "from PyQt6.QtGui import QGuiApplication\n"
    "QGuiApplication(sys.argv[:1])\n"
)

# A screenshot of the whole X screen (the root window), by a second X client.
GRAB_SCREEN = (
    "import sys\n"
    "from PyQt6.QtGui import QGuiApplication\n"
    "app = QGuiApplication(sys.argv[:1])\n"
    "sys.exit(0 if app.primaryScreen().grabWindow(0).save(sys.argv[1]) else 1)\n"
)

# Run in a mount namespace of its own: the system's library folder is covered by a copy of
# itself (links to every entry) that lacks the hidden libraries, so the dynamic loader really
# cannot find them, as on a machine where they are not installed. Then it runs the command.
HIDE_LIBRARIES = """
import os, subprocess, sys
lib_dir, work, hidden = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))
real, view = os.path.join(work, "real"), os.path.join(work, "view")
os.makedirs(real)
os.makedirs(view)
subprocess.run(["mount", "--bind", lib_dir, real], check=True)
for name in os.listdir(real):
    if name not in hidden:
        os.symlink(os.path.join(real, name), os.path.join(view, name))
subprocess.run(["mount", "--bind", view, lib_dir], check=True)
os.execv(sys.argv[4], sys.argv[4:])
"""


def desktop_env(display: str) -> dict[str, str]:
    """The environment of an X desktop session: DISPLAY, no platform chosen."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE")}
    return {**env, "DISPLAY": display}


def monitor_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "monitor.cli", "run", *args]


@pytest.fixture(scope="module")
def x_display():
    """A real X server on a free display number (Xvfb picks it and writes it to -displayfd once
    it accepts connections); a black root window, so an empty screen is one colour."""
    xvfb = shutil.which("Xvfb")
    if xvfb is None:
        pytest.skip("Xvfb is not installed (Debian: apt-get install xvfb; .ci/run installs it)")
    read, write = os.pipe()
    proc = subprocess.Popen([xvfb, "-displayfd", str(write), "-screen", "0", "1600x1000x24",
                             "-nolisten", "tcp", "-br"], pass_fds=(write,),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    # Read up to the newline: Xvfb writes the number and the newline apiece, and dies when the
    # second write finds the pipe closed.
    said, deadline = b"", time.monotonic() + 30.0
    while not said.endswith(b"\n") and time.monotonic() < deadline:
        ready, _, _ = select.select([read], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(read, 32) if ready else b""
        if not chunk:
            break
        said += chunk
    os.close(read)
    if not said.endswith(b"\n"):
        proc.kill()
        pytest.fail("Xvfb did not report a display within 30 s")
    yield f":{said.decode().strip()}"
    proc.terminate()
    proc.wait(timeout=10)


def screen_pixels(path: Path) -> np.ndarray:
    """The PNG read back as (height, width) 0xRRGGBB integers."""
    from PyQt6.QtGui import QImage

    image = QImage(str(path))
    assert not image.isNull(), f"{path}: not a readable PNG"
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits().asstring(image.sizeInBytes()), np.uint32)
    return data.reshape(image.height(), image.bytesPerLine() // 4)[:, :image.width()] & 0xFFFFFF


def colour(hex_rgb: str) -> int:
    return int(hex_rgb.lstrip("#"), 16)


def seizure_alerts(events: Path) -> list[dict]:
    if not events.exists():
        return []
    lines = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    return [e for e in lines if e["type"] == "alert" and e["class"] == "seizure"
            and e["state"] == "on"]


def test_dashboard_on_the_x_server_shows_the_seizure_alert(x_display, trained_checkpoint,
                                                          tmp_path):
    env = desktop_env(x_display)
    events, shot = tmp_path / "events.jsonl", tmp_path / "screen.png"
    # The demo raises its seizure alert at about 70 s of stream: 9 s at 8x.
    proc = subprocess.Popen(monitor_cmd("--window", "--speed", "8", "--duration", "45",
                                        "--checkpoint", str(trained_checkpoint),
                                        "--events", str(events)),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 40
        while not seizure_alerts(events) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert seizure_alerts(events), f"no seizure alert in the event log (exit {proc.poll()})"
        # The banner turns to the alarm colours on the X screen (it flashes between two).
        alarm = {colour(STATES["seizure"][1]), colour(STATES["seizure"][3])}
        deadline = time.monotonic() + 15
        while True:
            grab = subprocess.run([sys.executable, "-c", GRAB_SCREEN, str(shot)],
                                  env={**env, "QT_QPA_PLATFORM": "xcb"}, capture_output=True,
                                  text=True, timeout=30)
            assert grab.returncode == 0, grab.stderr
            pixels = screen_pixels(shot)
            banner = max(int(np.count_nonzero(pixels == c)) for c in alarm)
            if banner > 40_000 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGINT)  # the dashboard closes its window on Ctrl+C
        out, err = proc.communicate(timeout=30)
        print(err, file=sys.stderr)  # pytest shows it when the test fails
    assert proc.returncode == 0, err
    # Nothing to say about Qt's platform on this desktop.
    assert not [line for line in err.splitlines() if line.startswith("seizure-monitor")], err
    assert pixels.shape == (1000, 1600)
    # The window covers the screen (black without it) in the theme's colours, alarm banner on.
    assert np.count_nonzero(pixels == 0) < pixels.size // 10
    assert np.count_nonzero(pixels == colour(theme.BACKGROUND)) > pixels.size // 10
    assert len(np.unique(pixels)) > 50
    assert banner > 40_000, f"the alarm colours cover only {banner} pixels of the screen"


def test_a_display_nobody_serves_falls_back_to_headless_in_one_line(tmp_path):
    number = next(n for n in range(150, 400) if not Path(f"/tmp/.X11-unix/X{n}").exists()
                  and not Path(f"/tmp/.X{n}-lock").exists())
    env = desktop_env(f":{number}")
    proc = subprocess.run(monitor_cmd("--duration", "1", "--no-predictions"), cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("seizure-monitor")]
    assert said == [f"seizure-monitor run: Qt's xcb platform cannot start: could not connect "
                    f"to display :{number}. Running headless."], proc.stderr
    assert '"event": "started"' in proc.stdout  # the monitor ran headless
    # A picture asked for: rendered offscreen instead.
    png = tmp_path / "dashboard.png"
    proc = subprocess.run(monitor_cmd("--screenshot", str(png), "--duration", "1"), cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("seizure-monitor")]
    assert said == [f"seizure-monitor run: Qt's xcb platform cannot start: could not connect "
                    f"to display :{number}. The picture is rendered offscreen."], proc.stderr
    assert screen_pixels(png).shape == (1000, 1600)
    # Asked for a window explicitly: an error, exit 2, still one line and no abort.
    proc = subprocess.run(monitor_cmd("--window", "--duration", "1"), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip().splitlines() == [
        f"seizure-monitor run: error: Qt's xcb platform cannot start: could not connect to "
        f"display :{number}. Or run with --headless."]


@pytest.fixture(scope="module")
def hide_libraries(tmp_path_factory):
    """Runs a command where HIDDEN cannot be found by the dynamic loader (see HIDE_LIBRARIES)."""
    unshare = shutil.which("unshare")
    userns = [] if os.geteuid() == 0 else ["--map-root-user"]
    if unshare is None or subprocess.run([unshare, "--mount", *userns, "true"],
                                         capture_output=True).returncode != 0:
        pytest.skip("hiding a library needs a mount namespace (unshare --mount), "
                    "not permitted here")
    from monitor.ui.qt_platform import plugin_file

    plugin = plugin_file("xcb")
    assert plugin is not None, "PyQt6 has no xcb platform plugin"
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True).stdout
    found = {line.split()[0]: line.split()[2] for line in ldd.splitlines() if " => /" in line}
    lib_dirs = {str(Path(found[lib]).resolve().parent) for lib in HIDDEN}
    assert len(lib_dirs) == 1, f"the hidden libraries lie in several folders: {lib_dirs}"
    lib_dir = lib_dirs.pop()

    def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
        work = tmp_path_factory.mktemp("hide")
        return subprocess.run([unshare, "--mount", *userns, sys.executable, "-c", HIDE_LIBRARIES,
                               lib_dir, str(work), ",".join(HIDDEN), *cmd],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    return run


def test_missing_xcb_libraries_named_with_the_install_command_instead_of_an_abort(
        x_display, hide_libraries):
    env = desktop_env(x_display)
    # Without the check, Qt itself aborts there: the crash, reproduced for real.
    qt = hide_libraries([sys.executable, "-c", QT_START], env)
    assert qt.returncode == -signal.SIGABRT, qt.stderr
    assert 'Could not load the Qt platform plugin "xcb"' in qt.stderr

    proc = hide_libraries(monitor_cmd("--duration", "1", "--no-predictions"), env)
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(said) == 1, proc.stderr
    line = said[0]
    assert line.startswith("seizure-monitor run: Qt's xcb platform cannot load: ")
    for lib in HIDDEN:
        assert lib in line
    assert ("Debian/Ubuntu: sudo apt-get install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1"
            in line)
    assert "Fedora: sudo dnf install xcb-util-cursor xcb-util-wm xcb-util-keysyms" in line
    assert line.endswith("Running headless.")
    assert '"event": "started"' in proc.stdout

    # A window asked for (QT_QPA_PLATFORM=xcb): exit 2 with the same line as an error.
    proc = hide_libraries(monitor_cmd("--duration", "1"), {**env, "QT_QPA_PLATFORM": "xcb"})
    assert proc.returncode == 2, proc.stderr
    assert [s for s in proc.stderr.splitlines() if s.strip()] == [
        line.replace("seizure-monitor run: ", "seizure-monitor run: error: ")
        .replace("Running headless.", "Or run with --headless.")]


def test_on_a_wayland_session_without_the_wayland_platform_the_window_opens_on_xwayland(
        x_display, trained_checkpoint, tmp_path):
    # A Wayland session whose compositor cannot be reached (or whose plugin cannot load: this
    # machine may lack libwayland-cursor0), with XWayland's DISPLAY: Qt's own order, wayland
    # then xcb, ends on xcb; the user is told why in one line.
    env = {**desktop_env(x_display), "XDG_SESSION_TYPE": "wayland",
           "WAYLAND_DISPLAY": f"no-such-wayland-{os.getpid()}"}
    proc = subprocess.run(monitor_cmd("--duration", "2", "--checkpoint", str(trained_checkpoint)),
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    said = [line for line in proc.stderr.splitlines() if line.startswith("seizure-monitor")]
    assert len(said) == 1, proc.stderr
    assert said[0].startswith("seizure-monitor run: Qt's wayland platform cannot ")
    assert said[0].endswith("The window opens on xcb.")
    assert proc.stdout == ""  # the dashboard ran: headless would print JSON lines


@pytest.mark.parametrize(("env", "expected"), [
    ({}, (["xcb"], False)),
    ({"XDG_SESSION_TYPE": "x11"}, (["xcb"], False)),
    ({"XDG_SESSION_TYPE": "wayland"}, (["wayland", "xcb"], False)),
    ({"XDG_SESSION_TYPE": "wayland", "QT_QPA_PLATFORM": "xcb"}, (["xcb"], True)),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, (["wayland", "xcb"], True)),
])
def test_platforms_are_tried_in_qts_order(env, expected):
    assert qt_candidates(env) == expected


def test_the_message_names_packages_only_where_they_are_known():
    check = PlatformCheck(None, ("Qt's xcb platform cannot load: libxcb-cursor.so.0, "
                                 "libfoo.so.9 not found",), ("libxcb-cursor.so.0", "libfoo.so.9"),
                          False)
    assert check.message() == (
        "Qt's xcb platform cannot load: libxcb-cursor.so.0, libfoo.so.9 not found (install with "
        "Debian/Ubuntu: sudo apt-get install libxcb-cursor0; Fedora: sudo dnf install "
        "xcb-util-cursor).")
    assert PlatformCheck(None, ("Qt's xcb platform cannot start: could not connect to display "
                                ":9",), (), False).message() == (
        "Qt's xcb platform cannot start: could not connect to display :9.")
