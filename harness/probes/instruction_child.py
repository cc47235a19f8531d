"""The counted process of the instruction lane: builds one workload, then runs the calls it is told to, region by region.

Run by ``harness.probes.instructions`` under ``valgrind --tool=callgrind --instr-atstart=no``: imports,
the build and a warm-up call run uninstrumented (fast); the parent switches instrumentation on
and dumps callgrind's counts after each region. The protocol on stdin/stdout is one line each
way: the parent writes a call count (or ``exit``), this process runs that many calls and
answers ``done``. It imports only the workload's own module, so a store-level workload never
pays for torch.
"""

from __future__ import annotations

import ctypes
import gc
import importlib
import json
import os
import sys

from harness.workloads.base import WorkloadParams

READY, DONE, EXIT = b"ready\n", b"done\n", b"exit"
PR_SET_PTRACER, PR_SET_PTRACER_ANY = 0x59616D61, ctypes.c_ulong(-1)  # <linux/prctl.h>


def read_line() -> bytes:
    """One command from the parent; a blocking read, so nothing runs (or counts) while it waits."""
    line = b""
    while not line.endswith(b"\n"):
        chunk = os.read(0, 64)
        if not chunk:  # the parent went away
            os._exit(3)
        line += chunk
    return line.strip()


def allow_vgdb() -> None:
    """Let any process ptrace this one: callgrind_control reaches callgrind through vgdb, which
    must interrupt the blocking read below, and Yama (ptrace_scope 1) allows only ancestors."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: nothing to allow
        pass


def main(argv: list[str]) -> int:
    spec = json.loads(argv[0])
    allow_vgdb()
    sys.stdout = sys.stderr  # fd 1 carries the protocol; anything a workload prints goes to stderr
    for plugin in spec["plugins"]:
        importlib.import_module(plugin)  # registers a backend (farm_grids.stores.register_backend)
    factory = getattr(importlib.import_module(spec["module"]), spec["factory"])
    workload = factory(WorkloadParams(**spec["params"]))
    try:
        workload.run()  # warm: first-call effects (caches, lazy set-up) are not what is counted
        # Collections come every N allocations: start the counted regions from the same collector
        # state whatever the imports allocated (compiling a changed module allocates more).
        gc.collect()
        gc.freeze()
        os.write(1, READY)
        while (command := read_line()) != EXIT:
            run = workload.run
            for _ in range(int(command)):
                run()
            os.write(1, DONE)
    finally:
        workload.close()
    sys.stderr.flush()
    os._exit(0)  # skip interpreter teardown: it would run instrumented for nothing


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
