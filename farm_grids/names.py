"""Text rules for what becomes a file, directory or object name: valid Unicode, no NUL, no over-long part."""

from __future__ import annotations

import os

__all__ = ["NAME_MAX", "path_problem", "text_problem"]

# Bytes in one path component on Linux filesystems (ext4, xfs, btrfs, tmpfs).
NAME_MAX = 255


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be part of a name (a lone surrogate, a NUL), or None."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode (it holds a lone surrogate)"
    if "\0" in text:
        return "contains a NUL byte"
    return None


def path_problem(text: str) -> str | None:
    """Why ``text`` cannot be a local path: a text problem, or a component longer than NAME_MAX bytes."""
    problem = text_problem(text)
    if problem is not None:
        return problem
    for part in text.split(os.sep):
        if len(part.encode("utf-8")) > NAME_MAX:
            return f"has a component of {len(part.encode('utf-8'))} bytes ({part[:24]!r}...), above NAME_MAX ({NAME_MAX})"
    return None
