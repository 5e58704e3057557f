"""`seizure-monitor`: one console command, one module per subcommand.

Each command module has ``add_parser(subparsers)`` and ``run(args) -> int``. Errors about the
user's input (files, flags, checkpoints) are printed as one line naming the input, with a
non-zero exit and no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from model.checkpoint import CheckpointError
from model.data import DataError
from monitor.lsl_log import quiet_liblsl
from monitor.settings import UsageError

#: subcommand -> module that implements it
COMMANDS = {
    "run": "monitor.commands.run",
    "train": "monitor.commands.train",
    "evaluate": "monitor.commands.evaluate",
    "compare": "monitor.commands.compare",
    "inspect": "monitor.commands.inspect",
    "replay": "monitor.commands.replay",
    "bench": "monitor.commands.bench",
    "review": "monitor.commands.review",
    "report": "monitor.commands.report",
    "ward": "monitor.commands.ward",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seizure-monitor",
        description="Real-time EEG seizure monitor (a research tool, not a medical device).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS.values():
        importlib.import_module(module).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # liblsl's own INFO lines ("config loaded", its build, "transmission broke off") read as
    # errors; the status events say what matters (run --verbose shows them)
    quiet_liblsl(getattr(args, "verbose", False))
    try:
        return int(args.func(args) or 0)
    except (DataError, CheckpointError, UsageError, FileNotFoundError) as exc:
        # One line, whatever a library put in the message (mne's can span several).
        print(f"seizure-monitor {args.command}: error: {' '.join(str(exc).split())}",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
