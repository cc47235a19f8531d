"""Config files on disk: safe paths, bounded non-blocking reads, strict YAML/JSON parsing and atomic saves."""

from __future__ import annotations

import json
import os
import pathlib
import stat
import tempfile
import typing
from collections.abc import Mapping

import yaml

from farm_grids.errors import ConfigError
from farm_grids.names import path_problem

__all__ = ["MAX_CONFIG_BYTES", "UniqueKeyLoader", "config_path", "format_for", "parsed_mapping", "read_config_text",
           "unique_keys", "write_atomically"]

# Far above any real configuration (a few KiB); a bigger file is not one.
MAX_CONFIG_BYTES = 1 << 20


def config_path(path: object) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"a config path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    text = os.fspath(path)
    problem = path_problem(os.fsdecode(text) if isinstance(text, bytes) else text)
    if problem is not None:
        raise ConfigError(f"the config path {text!r} {problem}")
    return pathlib.Path(path)


def read_config_text(source: str) -> str:
    """A config file's text: a regular file of at most MAX_CONFIG_BYTES, read without blocking.

    Opened non-blocking so a FIFO cannot hang the read, then checked to be a regular file,
    so /dev/zero or a pipe never fills memory.
    """
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise ConfigError(f"{source}: config file not found") from None
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{source}: a config file must be a regular file, not a {_file_kind(info.st_mode)}")
        if info.st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{source}: {info.st_size} bytes is larger than a config file may be ({MAX_CONFIG_BYTES})")
        with os.fdopen(os.dup(fd), "rb") as stream:
            data = stream.read(MAX_CONFIG_BYTES + 1)  # the file may have grown since fstat
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc}") from exc
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{source}: larger than a config file may be ({MAX_CONFIG_BYTES} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{source}: cannot read config file: {exc}") from exc


def _file_kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "directory"), (stat.S_ISFIFO, "FIFO"), (stat.S_ISCHR, "character device"),
             (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))
    return next((name for test, name in kinds if test(mode)), "special file")


def unique_keys(pairs: list[tuple[str, typing.Any]]) -> dict[str, typing.Any]:
    """JSON object hook: a key given twice is an error, not 'the last one wins'."""
    seen: dict[str, typing.Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


class UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load that refuses a mapping key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[typing.Any, typing.Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        for index, key in enumerate(keys):
            if key in keys[:index]:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def format_for(path: str | os.PathLike[str]) -> str:
    path = config_path(path)
    suffix = pathlib.Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "YAML"
    if suffix == ".json":
        return "JSON"
    raise ConfigError(f"{os.fspath(path)}: unknown config file suffix {suffix!r}; use .yaml, .yml or .json")


def parsed_mapping(source: str, fmt: str) -> Mapping[str, typing.Any]:
    """The top-level mapping of the config file ``source`` in format ``fmt`` ("YAML" or "JSON"), or ConfigError."""
    text = read_config_text(source)
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader) if fmt == "YAML" else json.loads(text, object_pairs_hook=unique_keys)
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{source}: malformed {fmt}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{source}: malformed {fmt}: nested too deeply") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: top level must be a mapping of keys, got {type(data).__name__}")
    return data


def write_atomically(target: pathlib.Path, data: Mapping[str, typing.Any]) -> None:
    """Write ``data`` as YAML or JSON (by suffix) to ``target``: a temp file beside it, then ``os.replace``."""
    if not target.parent.is_dir():
        raise ConfigError(f"{target}: cannot save, directory {str(target.parent)!r} does not exist")
    if format_for(target) == "JSON":
        text = json.dumps(data, indent=2, allow_nan=False) + "\n"
    else:
        text = yaml.safe_dump(data, sort_keys=False)
    try:
        handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError(f"{target}: cannot save: {exc}") from exc
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            os.fchmod(stream.fileno(), 0o644)  # mkstemp makes 0600; a config file is not a secret
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, target)
    except BaseException:
        pathlib.Path(temp_name).unlink(missing_ok=True)
        raise
