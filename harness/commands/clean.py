"""`farm-harness clean`: remove grid files and scratch directories left behind by processes that are gone."""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import dataclass
from pathlib import Path

from farm_grids.stores import cleanup_stale
from harness.commands.commandline import existing_dir
from harness.probes.tempfiles import remove_stale_scratch, stale_scratch_dirs


@dataclass(frozen=True)
class CleanPlan:
    """What a clean would remove (or did remove) under one directory."""

    directory: Path
    grid_files: tuple[Path, ...]
    scratch_dirs: tuple[Path, ...]


def clean(directory: Path, *, dry_run: bool = False) -> CleanPlan:
    """Remove stale grid files (farm_grids.cleanup_stale) and the stale scratch dirs the harness made; dry_run only lists."""
    report = cleanup_stale(directory, dry_run=dry_run)
    stale_dirs = tuple(stale_scratch_dirs(directory))
    if dry_run:
        return CleanPlan(directory, report.removed, stale_dirs)
    removed_dirs = [path for path in stale_dirs if remove_stale_scratch(path)]
    return CleanPlan(directory, report.removed, tuple(removed_dirs))


def prepare_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("directory", nargs="?", type=existing_dir, help="where to look (default: the temp dir)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be removed")


def run(args: argparse.Namespace) -> int:
    directory = args.directory if args.directory is not None else Path(tempfile.gettempdir())
    result = clean(directory, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    for path in (*result.grid_files, *result.scratch_dirs):
        print(f"{verb} {path}")
    print(f"{verb} {len(result.grid_files)} stale grid files and {len(result.scratch_dirs)} scratch dirs in {directory}")
    return 0
