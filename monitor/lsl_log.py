"""liblsl's own log lines (config loaded, build hash, "Stream transmission broke off;
re-connecting") off the user's stderr: users read them as errors, and the monitor's status
events already say what matters (stream_lost, stream_recovered). ``--verbose`` keeps them.

liblsl reads its settings once, at its first use, from the first ``lsl_api.cfg`` it finds; a
user's own file (KnownPeers, ports) is kept, with only a quiet ``[log]`` section added when it
has none.
"""

from __future__ import annotations

import os
from pathlib import Path

import pylsl

#: loguru's verbosity: -3 fatal only (errors such as "transmission broke off" are -2, INFO 0)
QUIET_LEVEL = -3


def user_config() -> Path | None:
    """The file liblsl would read, in its own order of search."""
    candidates = [os.environ.get("LSLAPICFG", ""), "lsl_api.cfg",
                  str(Path.home() / "lsl_api" / "lsl_api.cfg"), "/etc/lsl_api/lsl_api.cfg"]
    return next((Path(c) for c in candidates if c and Path(c).is_file()), None)


def quiet_liblsl(verbose: bool = False) -> bool:
    """Silence liblsl's log unless ``verbose``; call before the first stream is made or
    resolved. Returns whether it was silenced."""
    set_content = getattr(pylsl.lib.lib, "lsl_set_config_content", None)
    if verbose or set_content is None:  # liblsl < 1.16 cannot be told
        return False
    path = user_config()
    text = path.read_text(errors="replace") if path is not None else ""
    if "[log]" in text:
        return False  # the user chose a log level
    set_content(f"{text}\n[log]\nlevel = {QUIET_LEVEL}\n".encode())
    return True
