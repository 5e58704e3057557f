"""`seizure-monitor bench`: throughput, real-time capacity, latency, dashboard frame rate and
memory of the monitor on this machine, as a table and JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from monitor.commands import output_file, write_json
from monitor.measure.bench import BenchConfig, run_bench
from monitor.measure.bench_report import table
from monitor.settings import UsageError


def add_parser(sub) -> None:
    p = sub.add_parser(
        "bench",
        help="measure inference throughput, real-time capacity, latency, dashboard frame rate "
        "and memory",
        description="Every figure is a median over repeats after a warm-up. Capacity and latency "
        "use a synthetic amplifier publishing a real LSL stream on loopback (173.61 Hz, the "
        "model's rate) into the real pipeline. The full run takes about 10 minutes; --quick "
        "under 2.",
    )
    p.add_argument("--json", type=output_file, help="write every figure as JSON")
    p.add_argument("--quick", action="store_true",
                   help="short measurements for CI (capacity by doubling only, short streams)")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests: code paths
    p.add_argument("--checkpoint", type=Path,
                   help="model checkpoint (default: the shipped one, else an untrained network "
                   "of the same shape, which is as fast)")
    p.add_argument("--device", choices=["all", "cpu", "cuda"], default="all",
                   help="devices to measure throughput and capacity on (default: every one "
                   "torch sees)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.quick and args.tiny:
        raise UsageError("give --quick or --tiny, not both.")
    cfg = BenchConfig.tiny() if args.tiny else BenchConfig.quick() if args.quick else \
        BenchConfig.full()
    cuda = torch.cuda.is_available()
    if args.device == "cuda" and not cuda:
        raise UsageError("--device cuda was asked for, but torch sees no CUDA device.")
    devices = {"all": ["cpu", "cuda"] if cuda else ["cpu"], "cpu": ["cpu"],
               "cuda": ["cuda"]}[args.device]
    result = run_bench(cfg, devices, args.checkpoint)
    print()
    print(table(result))
    if args.json:
        write_json(args.json, result, indent=2)
        print(f"\nwrote {args.json}")
    return 0
