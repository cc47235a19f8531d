"""Progress of a long run: the one ProgressCallback type, and a display that is a rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

ProgressCallback = Callable[[int, int, str], None]  # (done, total, label)


def use_rich(stream: object = None) -> bool:
    """Rich live displays only on an interactive terminal outside CI."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    interactive = bool(isatty and isatty())
    return interactive and os.environ.get("CI", "").strip().lower() not in {"true", "1", "yes"}


@contextlib.contextmanager
def progress_display(description: str, total: int, plain_every: int = 1) -> Iterator[ProgressCallback]:
    """Yield a progress callback (done, total, label): a rich bar on a tty, else a plain line per step."""
    if use_rich():
        from rich.progress import Progress  # only on a terminal: plain runs never pay for rich

        with Progress(transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda done, _total, label: bar.update(task, completed=done, description=f"{description} {label}")
        return

    def plain(done: int, total_: int, label: str) -> None:
        if done % plain_every == 0 or done == total_:
            print(f"{description}: {done}/{total_} {label}", flush=True)

    yield plain
