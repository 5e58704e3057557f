"""The desktop dashboard."""

import os
import sys


def has_screen() -> bool:
    """Whether Qt can open a window: a display on Linux, or a platform chosen explicitly."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
