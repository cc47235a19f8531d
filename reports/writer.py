"""write_report: load inputs, render every requested format in memory, then publish atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from harness.results.output_files import publish, staging_beside
from reports.errors import ReportExistsError, ReportInputError
from reports.frames import ReportData
from reports.html import build_html
from reports.junit import build_junit
from reports.loaders import load_sources
from reports.markdown import build_markdown
from reports.plots import build_plots
from reports.tabular import build_csvs, build_json

FORMATS = ("md", "html", "csv", "json", "junit", "png")
DEFAULT_FORMATS = FORMATS


def parse_formats(formats: str | Iterable[str]) -> tuple[str, ...]:
    """'md,html' or ['md', 'html'] -> ('md', 'html'); an unknown name raises ReportInputError."""
    names = formats.split(",") if isinstance(formats, str) else list(formats)
    cleaned = tuple(dict.fromkeys(name.strip().lower() for name in names if name.strip()))
    unknown = [name for name in cleaned if name not in FORMATS]
    if unknown:
        raise ReportInputError(f"unknown report format {unknown[0]!r} (choose from {', '.join(FORMATS)})")
    if not cleaned:
        raise ReportInputError(f"no report format given (choose from {', '.join(FORMATS)})")
    return cleaned


def build_report_files(data: ReportData, formats: Iterable[str]) -> dict[str, bytes]:
    """{file name: content} for every requested format (pure: nothing is written)."""
    formats = set(formats)
    plots = build_plots(data) if formats & {"html", "png"} else []
    files: dict[str, bytes] = {}
    if "md" in formats:
        files["report.md"] = build_markdown(data).encode("utf-8")
    if "html" in formats:
        files["report.html"] = build_html(data, plots).encode("utf-8")
    if "csv" in formats:
        files.update({name: text.encode("utf-8") for name, text in build_csvs(data).items()})
    if "json" in formats:
        files["report.json"] = build_json(data).encode("utf-8")
    if "junit" in formats:
        files["junit.xml"] = build_junit(data)
    if "png" in formats:
        files.update({f"{plot.name}.png": plot.png for plot in plots})
    return files


def publish_files(files: dict[str, bytes], out_dir: Path, force: bool = False) -> list[Path]:
    """Write `files` into `out_dir` all or nothing: stage beside it, then move each file in."""
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ReportInputError(f"{out_dir}: exists and is not a directory")
    existing = sorted(name for name in files if (out_dir / name).exists())
    if existing and not force:
        raise ReportExistsError(f"{out_dir / existing[0]}: report already exists (pass --force to overwrite)")
    created_out_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with staging_beside(out_dir, "report") as staging:
            for name, content in files.items():
                (staging / name).write_bytes(content)
            return publish({name: staging / name for name in files}, out_dir)
    except BaseException:
        if created_out_dir and not any(out_dir.iterdir()):
            out_dir.rmdir()
        raise


def write_report(
    sources: list[Path],
    out_dir: Path,
    formats: str | Iterable[str] = DEFAULT_FORMATS,
    force: bool = False,
) -> list[Path]:
    """Load `sources`, render `formats` and write them into `out_dir`; returns the files written.

    Raises ReportInputError for bad input and ReportExistsError when a report file is already
    in `out_dir` and `force` is false; in both cases nothing has been written.
    """
    chosen = parse_formats(formats)
    data = load_sources(sources)
    return publish_files(build_report_files(data, chosen), Path(out_dir), force=force)
