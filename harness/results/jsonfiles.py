"""JSON in and out: inputs parsed and checked against a JSON Schema before use, outputs written atomically."""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import fastjsonschema

from harness.errors import InputFileError
from harness.results.output_files import write_file_atomic

# fastjsonschema compiles a schema to plain Python: a 30,000-row result checks in a fraction
# of a second, where an interpreting validator takes seconds.
Validator = Callable[[Any], Any]


def compile_schema(schema: Mapping[str, Any]) -> Validator:
    """A validator for ``schema`` (JSON Schema draft 7), to pass to ``load_json``."""
    return fastjsonschema.compile(dict(schema))


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(path: str | os.PathLike[str], *, allow_nonfinite: bool = True,
               error: type[InputFileError] = InputFileError) -> Any:
    """The parsed JSON of ``path``; anything that is not readable UTF-8 JSON raises ``error`` naming the file.

    ``allow_nonfinite=False`` refuses NaN and Infinity, which Python writes but JSON does not
    have. A missing file raises FileNotFoundError, for the caller to word ("no such file").
    """
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})") from None
    hook = None if allow_nonfinite else _reject_constant
    try:
        return json.loads(text, parse_constant=hook) if hook else json.loads(text)
    except json.JSONDecodeError as exc:
        raise error(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    except RecursionError:
        raise error(f"{path}: not usable JSON (nested too deeply)") from None
    except ValueError as exc:  # NaN refused above, or an integer past Python's digit limit
        message = str(exc).split(";")[0]
        raise error(f"{path}: not usable JSON ({message})") from None


def _where(name: str) -> str:
    """'data.benchmarks[0].params' -> 'benchmarks[0].params' ('' for the document itself)."""
    return name.removeprefix("data").removeprefix(".")


def describe_violation(exc: fastjsonschema.JsonSchemaValueException) -> str:
    """One line saying where the document breaks its schema and how."""
    where = _where(exc.name or "data")
    if exc.rule == "required" and isinstance(exc.value, Mapping):
        missing = [key for key in exc.rule_definition if key not in exc.value]
        return f"{where or 'the document'} has no {missing[0]!r} key"
    message = exc.message.removeprefix(exc.name or "data").strip()
    return f"{where or 'the document'} {message}"


def check_document(document: Any, validator: Validator, source: str, what: str,
                   error: type[InputFileError] = InputFileError) -> Any:
    """``document`` if it follows the schema of ``validator``, else ``error`` naming ``source``."""
    try:
        validator(document)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise error(f"{source}: malformed {what}: {describe_violation(exc)}") from None
    return document


def load_json(path: str | os.PathLike[str], validator: Validator, what: str, *, allow_nonfinite: bool = True,
              error: type[InputFileError] = InputFileError) -> Any:
    """Parse ``path`` and check it against its schema; every problem is one ``error`` naming the file."""
    document = parse_json(path, allow_nonfinite=allow_nonfinite, error=error)
    return check_document(document, validator, str(path), what, error)


def to_jsonable(value: Any) -> Any:
    """Plain JSON types: NaN/inf -> null, enums -> their value, dataclasses/tuples/numpy scalars unwrapped."""
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [to_jsonable(v) for v in items]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return to_jsonable(value.item())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} to JSON")


def write_json_atomic(document: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``document`` as JSON beside ``path`` and rename it in (never half-written, never through a symlink)."""
    text = json.dumps(to_jsonable(document), indent=2, allow_nan=False) + "\n"
    return write_file_atomic(text.encode("utf-8"), path)
