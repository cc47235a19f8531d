"""`farm-harness profile`: one workload under memray, a flamegraph, and the heap peak with MMAP records apart."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from harness.commands.commandline import add_outputs, comma_list
from harness.commands.size_options import grid_side_in_memory
from harness.errors import HarnessUsageError
from harness.probes.heap_profile import capture, flamegraph, high_water_mark, import_memray
from harness.probes.tempfiles import scratch_dir
from harness.results.jsonfiles import write_json_atomic
from harness.results.output_files import publish, staging_beside
from harness.workloads.catalog import WORKLOADS


DEFAULT_WORKLOAD = "observe_all"
DEFAULT_SIZE = 1024
DEFAULT_OUT = Path("farm-harness-profile")
MIB = 1024**2


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workload", type=comma_list, dest="workloads",
                        help=f"workload name (default {DEFAULT_WORKLOAD})")
    parser.add_argument("--size", type=grid_side_in_memory(16), help=f"grid side, >= 16 (default {DEFAULT_SIZE})")
    add_outputs(parser, f"directory for the capture and flamegraph (default {DEFAULT_OUT})", "write the peaks as JSON here")


def run(args: argparse.Namespace) -> int:
    """Profile one workload; prints heap peak vs mmap peak; exit 0 (2 on bad input or no memray)."""
    import_memray()  # fail fast, before anything is built
    workloads = tuple(args.workloads) if args.workloads else (DEFAULT_WORKLOAD,)
    if len(workloads) != 1 or workloads[0] not in WORKLOADS:
        raise HarnessUsageError(f"--workload takes one workload name, got {','.join(workloads)}")
    size = args.size if args.size is not None else DEFAULT_SIZE
    if size < 16:
        raise HarnessUsageError(f"--size must be >= 16, got {size}")
    out_dir = args.out if args.out is not None else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    # Captured and rendered beside out_dir, then renamed in once complete: a symlink at a final
    # name is replaced, never written through, and nothing there is ever half-written.
    with staging_beside(out_dir, "profile") as staging:
        with scratch_dir() as scratch:
            staged_capture = capture(workloads[0], size, staging, scratch)
        staged_html = flamegraph(staged_capture)
        peak = high_water_mark(staged_capture)
        capture_path, html = publish({p.name: p for p in (staged_capture, staged_html)}, out_dir)
    print(f"{workloads[0]} {size}x{size} (memmap) under memray: {time.perf_counter() - started:.1f} s")
    print(f"heap at high-water mark: {peak.heap_bytes / MIB:.1f} MiB in {peak.heap_records} records")
    print(f"mmap at high-water mark: {peak.mmap_bytes / MIB:.1f} MiB in {peak.mmap_records} records "
          "(file mappings: memray counts each at the file's size)")
    print(f"capture: {capture_path}\nflamegraph: {html}")
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic({"workload": workloads[0], "size": size, "capture": capture_path, "flamegraph": html,
                           "heap_peak_bytes": peak.heap_bytes, "mmap_peak_bytes": peak.mmap_bytes,
                           "heap_records": peak.heap_records, "mmap_records": peak.mmap_records}, args.json)
    return 0
