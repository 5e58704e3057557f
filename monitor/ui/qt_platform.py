"""Can Qt open a window here? Found out before Qt is loaded, because Qt aborts the process it
fails in (SIGABRT, a core dump) when its platform plugin cannot load or cannot reach the display.

Qt's xcb plugin in the PyQt6 wheels links system libraries the wheel does not bundle
(libxcb-cursor0 from Qt 6.5 on, libxcb-icccm4, libxcb-keysyms1...), which many desktop
installs lack. The check asks the dynamic loader which of the plugin's libraries it cannot
resolve, then starts Qt on that platform in a short child process (with "minimal" as Qt's own
fallback, so the child does not abort either): that also catches a display nobody serves.

No Qt import here: this runs before the QApplication exists.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from monitor.settings import UsageError

#: seconds the loader or the child that starts Qt may take (an X server that never answers)
PROBE_TIMEOUT_S = 15.0

#: library -> Debian/Ubuntu package, for what Qt's xcb and wayland plugins link beyond the
#: C/C++ runtime (dpkg -S on Debian 12; the same names on Ubuntu 22.04 and 24.04)
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb.so.1": "libxcb1",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0",
    "libGLdispatch.so.0": "libglvnd0",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libdbus-1.so.3": "libdbus-1-3",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgthread-2.0.so.0": "libglib2.0-0",
}

#: the same for Fedora, only where packages.fedoraproject.org confirms the package
FEDORA_PACKAGES = {
    "libxcb-cursor.so.0": "xcb-util-cursor",
    "libxcb-icccm.so.4": "xcb-util-wm",
    "libxcb-keysyms.so.1": "xcb-util-keysyms",
    "libxcb-image.so.0": "xcb-util-image",
    "libxcb-render-util.so.0": "xcb-util-renderutil",
    "libxcb-util.so.1": "xcb-util",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11",
}

# The child: no core file even if Qt aborts after all; prints the platform Qt started on.
_PROBE = (
    "import resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n"
    "from PyQt6.QtGui import QGuiApplication\n"
    "print(QGuiApplication(sys.argv[:1]).platformName())\n"
)


@dataclass(frozen=True)
class PlatformCheck:
    """What the check found. ``platform``: the QT_QPA_PLATFORM value that opens a window (None
    when none can); ``problems``: one clause for each platform that cannot; ``missing``: the
    libraries the loader could not find; ``explicit``: the user chose the platform
    (QT_QPA_PLATFORM), so another one must not be put in its place."""

    platform: str | None
    problems: tuple[str, ...]
    missing: tuple[str, ...]
    explicit: bool

    def message(self) -> str:
        """One line: what cannot load or start, and the command that installs what is missing."""
        line = "; ".join(self.problems)
        installs = []
        for system, table, command in (("Debian/Ubuntu", DEBIAN_PACKAGES, "sudo apt-get install"),
                                       ("Fedora", FEDORA_PACKAGES, "sudo dnf install")):
            packages = dict.fromkeys(table[lib] for lib in self.missing if lib in table)
            if packages:
                installs.append(f"{system}: {command} {' '.join(packages)}")
        if installs:
            line += f" (install with {'; '.join(installs)})"
        return line + "."


def check_window_platform(env: Mapping[str, str] | None = None) -> PlatformCheck | None:
    """Check the platforms Qt would try, in Qt's order, and stop at the first that opens a
    window. None when there is nothing to check: not Linux, or a platform chosen that needs no
    display server (offscreen, minimal, vnc...)."""
    env = dict(os.environ if env is None else env)
    if not sys.platform.startswith("linux"):
        return None
    specs, explicit = qt_candidates(env)
    if not is_desktop_platform(specs[0]):
        return None
    problems: list[str] = []
    missing: list[str] = []
    for spec in specs:
        name = platform_name(spec)
        if not is_desktop_platform(spec):
            return PlatformCheck(spec, tuple(problems), tuple(missing), explicit)
        plugin = plugin_file(name)
        lost = missing_libraries(plugin, env) if plugin is not None else []
        if lost:
            problems.append(f"Qt's {name} platform cannot load: {', '.join(lost)} not found")
            missing += [lib for lib in lost if lib not in missing]
            continue
        error = start_error(spec, env)
        if error:
            problems.append(f"Qt's {name} platform cannot start: {error}")
            continue
        return PlatformCheck(spec, tuple(problems), tuple(missing), explicit)
    return PlatformCheck(None, tuple(problems), tuple(missing), explicit)


def qt_candidates(env: Mapping[str, str]) -> tuple[list[str], bool]:
    """The platforms Qt 6 tries, in its order, and whether the user chose them: QT_QPA_PLATFORM
    (a ';'-separated list), else wayland then xcb (XWayland) on a Wayland session
    (XDG_SESSION_TYPE), else xcb."""
    chosen = [s for s in env.get("QT_QPA_PLATFORM", "").split(";") if s]
    if chosen:
        return chosen, True
    if env.get("XDG_SESSION_TYPE") == "wayland":
        return ["wayland", "xcb"], False
    return ["xcb"], False


def platform_name(spec: str) -> str:
    """'xcb' of 'xcb:option=value' (QT_QPA_PLATFORM takes options after a colon)."""
    return spec.split(":", 1)[0]


def is_desktop_platform(spec: str) -> bool:
    """A platform that talks to a display server, and so can fail to reach or load for it."""
    name = platform_name(spec)
    return name == "xcb" or name.startswith("wayland")


def plugin_file(name: str) -> Path | None:
    """The platform plugin inside the PyQt6 wheel (all of Qt's wayland platforms are one
    plugin); None where this PyQt6 has no such file."""
    spec = importlib.util.find_spec("PyQt6")
    if spec is None or not spec.submodule_search_locations:
        return None
    stem = "wayland" if name.startswith("wayland") else name
    root = Path(next(iter(spec.submodule_search_locations)))
    path = root / "Qt6" / "plugins" / "platforms" / f"libq{stem}.so"
    return path if path.is_file() else None


def missing_libraries(plugin: Path, env: Mapping[str, str]) -> list[str]:
    """The plugin's shared libraries the dynamic loader cannot find. ldd is the loader's own
    resolution and lists every one at once, where a failed dlopen names only the first."""
    try:
        out = subprocess.run(["ldd", str(plugin)], env=dict(env), capture_output=True, text=True,
                             timeout=PROBE_TIMEOUT_S).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []  # no ldd here: starting Qt in a child still tells whether it works
    return list(dict.fromkeys(re.findall(r"^\s*(\S+) => not found", out, re.MULTILINE)))


def start_error(spec: str, env: Mapping[str, str]) -> str:
    """Why Qt cannot start on ``spec`` (Qt's own first line), or "" when it can."""
    child_env = {**env, "QT_QPA_PLATFORM": f"{spec};minimal"}
    try:
        proc = subprocess.run([sys.executable, "-c", _PROBE], env=child_env, capture_output=True,
                              text=True, timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        return f"no answer from the display server within {PROBE_TIMEOUT_S:g} s"
    started = proc.stdout.strip()
    if proc.returncode == 0 and started and started != "minimal":
        return ""
    said = [line.strip() for line in proc.stderr.splitlines() if line.strip()]
    if not said:
        return f"Qt exited with status {proc.returncode}"
    # "qt.qpa.xcb: could not connect to display :5" -> "could not connect to display :5"; the
    # message ends the sentence, so Qt's own full stop goes.
    return re.sub(r"^qt\.[\w.]+:\s*", "", said[0]).rstrip(". ")


class NoWindowError(UsageError):
    """A window was asked for (--window, or QT_QPA_PLATFORM naming a desktop platform) and no
    platform can open one."""


def prepare_window(required: bool, picture: bool) -> tuple[bool, str]:
    """Before the QApplication exists: pin QT_QPA_PLATFORM to the platform that opens a window,
    or, where none can, fall back: offscreen for a picture (--screenshot), else headless.
    Returns (headless, a one-line note for the user or ""); raises NoWindowError where a window
    was asked for explicitly and none can open."""
    from monitor.ui import has_screen

    if not has_screen():
        if required:
            raise NoWindowError("no screen found (no DISPLAY or WAYLAND_DISPLAY): a window needs "
                                "a desktop session. Or run with --headless.")
        return False, ""  # only a picture gets here: the dashboard renders it offscreen
    check = check_window_platform()
    if check is None:
        return False, ""
    if check.platform is not None:
        os.environ["QT_QPA_PLATFORM"] = check.platform
        if check.problems:
            return False, f"{check.message()} The window opens on {check.platform}."
        return False, ""
    if required or check.explicit:
        raise NoWindowError(f"{check.message()} Or run with --headless.")
    if picture:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return False, f"{check.message()} The picture is rendered offscreen."
    return True, f"{check.message()} Running headless."
