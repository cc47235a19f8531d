"""Simulation configuration: frozen, validated dataclasses loaded from YAML/JSON with dot-key overrides."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import json
import math
import numbers
import os
import pathlib
import re
import tempfile
import types
import typing
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import yaml

from farm_grids.errors import ConfigError, ConfigFieldError, InvalidGridSpecError
from farm_grids.values import validate_gamma

__all__ = ["ConfigFieldError", "MemmapConfig", "ObservationConfig", "ResourceConfig", "SimulationConfig"]

MEMMAP_DTYPES = ("float16", "float32", "float64")
MEMMAP_MODES = ("w+", "r+", "r")
FLUSH_POLICIES = ("close", "tick", "manual")
LAYOUTS = ("rows", "tiles")
ACCESS_MODES = ("auto", "random", "normal")
OBSERVATION_DTYPES = ("float16", "float32", "float64", "bfloat16")
RESOURCE_DISTRIBUTIONS = ("uniform", "clustered")
_TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "0", "off"})
_NULL_WORDS = frozenset({"null", "none", ""})
# The simulation id is embedded in memmap file names, so it must be a safe file-name fragment.
_SIMULATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _require(ok: bool, key: str, expectation: str, value: object) -> None:
    if not ok:
        raise ConfigFieldError(key, f"must be {expectation}, got {value!r}")


def _require_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    _require(value in choices, key, f"one of {', '.join(choices)}", value)


@functools.cache
def _field_hints(cls: type) -> dict[str, typing.Any]:
    return typing.get_type_hints(cls)


def _unwrap_optional(hint: typing.Any) -> tuple[typing.Any, bool]:
    """Split ``X | None`` into ``(X, True)``; anything else into ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))  # only X | None
        return inner, True
    return hint, False


def _is_block(hint: typing.Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def _checked_value(key: str, value: object, hint: typing.Any) -> object:
    """Return ``value`` normalised to the field type, or raise naming ``key``."""
    base, optional = _unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise ConfigFieldError(key, "must not be null")
    if base is bool:
        _require(isinstance(value, bool), key, "a boolean", value)
        return value
    if base is int:
        # bool is an int subclass; accepting it would let `radius: true` mean 1.
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        integral = is_number and (isinstance(value, numbers.Integral) or float(value).is_integer())
        _require(integral, key, "an integer", value)
        return int(value)
    if base is float:
        _require(isinstance(value, numbers.Real) and not isinstance(value, bool), key, "a number", value)
        _require(math.isfinite(value), key, "a finite number", value)
        return float(value)
    if base is str:
        _require(isinstance(value, str), key, "a string", value)
        return value
    if _is_block(base):
        _require(isinstance(value, base), key, f"a {base.__name__}", value)
        return value
    raise TypeError(f"unsupported config field type {hint!r} for {key}")


def _coerced_text(key: str, text: str, hint: typing.Any) -> object:
    """Parse an override string by the target field's type (validation happens afterwards)."""
    base, optional = _unwrap_optional(hint)
    word = text.strip().lower()
    if optional and word in _NULL_WORDS:
        return None
    if base is bool:
        if word in _TRUE_WORDS or word in _FALSE_WORDS:
            return word in _TRUE_WORDS
        raise ConfigFieldError(key, f"expected a boolean (true/false/yes/no/1/0/on/off), got {text!r}")
    if base is int or base is float:
        # "8.5" for an int field parses as a float so validation can say "must be an integer".
        for parse in (int, float) if base is int else (float,):
            with contextlib.suppress(ValueError):
                return parse(text)
        raise ConfigFieldError(key, f"expected {'an integer' if base is int else 'a number'}, got {text!r}")
    return text


def _unknown_key(cls: type, prefix: str, name: object) -> ConfigFieldError:
    known = [f.name for f in dataclasses.fields(cls)]
    # Match the leaf only (a shared "resources." prefix makes every key look close); a truncated
    # key ("flush" for "flush_policy") scores low in difflib, so try prefixes first.
    leaf = str(name)
    close = [k for k in known if leaf and k.startswith(leaf)] or difflib.get_close_matches(leaf, known, n=1)
    hint = f"did you mean {_join(prefix, close[0])!r}?" if close else "valid keys: " + ", ".join(known)
    return ConfigFieldError(_join(prefix, leaf) or "''", f"unknown key; {hint}")


class _ConfigBlock:
    """Shared behaviour of every config dataclass: generic type checks, then per-class ranges."""

    def __post_init__(self) -> None:
        hints = _field_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = _checked_value(f.name, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)  # frozen: normalise (e.g. 8.0 -> 8) in place
        self._validate()

    def _validate(self) -> None:
        """Range and choice checks; overridden per class."""


def _block_from_mapping(cls: type, data: object, prefix: str) -> typing.Any:
    """Build dataclass ``cls`` from a mapping; missing keys take defaults, unknown keys raise."""
    if not isinstance(data, Mapping):
        if prefix:
            raise ConfigFieldError(prefix, f"must be a mapping of keys, got {data!r}")
        raise ConfigError(f"config must be a mapping of keys, got {type(data).__name__}")
    hints = _field_hints(cls)
    kwargs: dict[str, object] = {}
    for name, value in data.items():
        if not isinstance(name, str) or name not in hints:
            raise _unknown_key(cls, prefix, name)
        hint = _unwrap_optional(hints[name])[0]
        kwargs[name] = _block_from_mapping(hint, value, _join(prefix, name)) if _is_block(hint) else value
    try:
        return cls(**kwargs)
    except ConfigFieldError as exc:
        raise exc.within(prefix) from None


def _field_hint_at(cls: type, dotted: str) -> typing.Any:
    """The type hint of the leaf field named by ``dotted``; raises on unknown or block paths."""
    parts = dotted.split(".")
    prefix = ""
    for index, part in enumerate(parts):
        hints = _field_hints(cls)
        if part not in hints:
            raise _unknown_key(cls, prefix, part)
        prefix = _join(prefix, part)
        base = _unwrap_optional(hints[part])[0]
        if index == len(parts) - 1:
            if _is_block(base):
                first = dataclasses.fields(base)[0].name
                raise ConfigFieldError(dotted, f"is a block; override one of its keys, e.g. {dotted}.{first}=...")
            return hints[part]
        if not _is_block(base):
            raise ConfigFieldError(dotted, f"unknown key; {prefix!r} is not a block")
        cls = base
    raise AssertionError("unreachable: str.split always yields at least one part")


def _parsed_overrides(overrides: Iterable[str] | Mapping[str, object]) -> list[tuple[str, object, bool]]:
    """(dotted key, value, value-came-from-text) triples from either override form."""
    if isinstance(overrides, Mapping):
        return [(str(key).strip(), value, isinstance(value, str)) for key, value in overrides.items()]
    if not isinstance(overrides, (str, Iterable)):
        raise ConfigError(f"overrides must be 'key=value' strings or a mapping, got {type(overrides).__name__}")
    items = [overrides] if isinstance(overrides, str) else list(overrides)
    parsed = []
    for item in items:
        if not isinstance(item, str) or "=" not in item:
            raise ConfigError(f"override {item!r} must look like 'key.path=value'")
        key, _, text = item.partition("=")
        parsed.append((key.strip(), text, True))
    return parsed


@dataclass(frozen=True)
class MemmapConfig(_ConfigBlock):
    """Where and how grids are stored on file, and which managers use that storage.

    ``backend`` names the file backend the ``use_for_*`` toggles switch on (``"memmap"``,
    or any name given to ``farm_grids.stores.register_backend`` or the
    ``farm_grids.backends`` entry points); managers left off use RAM. ``layout`` ("rows" or
    "tiles", with ``tile_size``) applies to RAM and memmap grids alike, so same-layout
    comparisons mean something; ``access`` and ``prefetch`` tune memmap reads (MemmapStore).
    """

    directory: str | None = None
    dtype: str = "float32"
    mode: str = "w+"
    delete_on_close: bool = False
    use_for_resources: bool = False
    use_for_environmental: bool = False
    use_for_temporal: bool = False
    flush_policy: str = "close"
    preallocate: bool = False
    backend: str = "memmap"
    layout: str = "rows"
    tile_size: int = 32
    access: str = "auto"
    prefetch: bool = True

    def _validate(self) -> None:
        if self.directory is not None:
            _require(self.directory.strip() != "", "directory", "a non-empty path or null", self.directory)
        _require_choice("dtype", self.dtype, MEMMAP_DTYPES)
        _require_choice("mode", self.mode, MEMMAP_MODES)
        _require_choice("flush_policy", self.flush_policy, FLUSH_POLICIES)
        _require_choice("layout", self.layout, LAYOUTS)
        _require(8 <= self.tile_size <= 4096 and self.tile_size & (self.tile_size - 1) == 0, "tile_size",
                 "a power of two from 8 to 4096", self.tile_size)
        _require_choice("access", self.access, ACCESS_MODES)
        from farm_grids.stores.registry import backend_names  # the registry imports this module's types

        names = backend_names()
        _require(self.backend in names, "backend", f"a registered backend ({', '.join(names)})", self.backend)

    def resolved_directory(self) -> pathlib.Path:
        """The directory memmap files live in (the system temp dir when unset); not created here."""
        return pathlib.Path(tempfile.gettempdir() if self.directory is None else self.directory).expanduser()

    @property
    def any_enabled(self) -> bool:
        """True when at least one manager is configured to use memmapped storage."""
        return self.use_for_resources or self.use_for_environmental or self.use_for_temporal


@dataclass(frozen=True)
class ObservationConfig(_ConfigBlock):
    """Agent observation window, field of view, temporal decay and tensor output settings."""

    radius: int = 6
    fov_radius: int = 6
    gamma_dmg: float = 0.85
    gamma_trail: float = 0.90
    gamma_sig: float = 0.92
    decay_floor: float = 0.0
    tile_size: int = 64
    dtype: str = "float32"
    device: str = "cpu"

    def _validate(self) -> None:
        _require(self.radius >= 0, "radius", "a non-negative integer", self.radius)
        _require(self.fov_radius >= 0, "fov_radius", "a non-negative integer", self.fov_radius)
        for name in ("gamma_dmg", "gamma_trail", "gamma_sig"):
            try:
                validate_gamma(getattr(self, name), name)
            except InvalidGridSpecError:
                raise ConfigFieldError(name, f"must be in (0, 1], got {getattr(self, name)!r}") from None
        _require(self.decay_floor >= 0.0, "decay_floor", "a non-negative number", self.decay_floor)
        _require(self.tile_size > 0, "tile_size", "a positive integer", self.tile_size)
        _require_choice("dtype", self.dtype, OBSERVATION_DTYPES)
        _require(self.device.strip() != "", "device", "a non-empty device name", self.device)

    @property
    def size(self) -> int:
        """Side S of the square observation window (2R + 1)."""
        return 2 * self.radius + 1


@dataclass(frozen=True)
class ResourceConfig(_ConfigBlock):
    """Initial placement and regrowth of resources."""

    count: int = 100
    max_amount: float = 10.0
    regen_rate: float = 0.1
    distribution: str = "uniform"
    clusters: int = 8
    cluster_spread: float = 8.0

    def _validate(self) -> None:
        _require(self.count >= 0, "count", "a non-negative integer", self.count)
        _require(self.max_amount > 0.0, "max_amount", "a positive number", self.max_amount)
        _require(self.regen_rate >= 0.0, "regen_rate", "a non-negative number", self.regen_rate)
        _require_choice("distribution", self.distribution, RESOURCE_DISTRIBUTIONS)
        _require(self.clusters > 0, "clusters", "a positive integer", self.clusters)
        _require(self.cluster_spread > 0.0, "cluster_spread", "a positive number", self.cluster_spread)


@dataclass(frozen=True)
class SimulationConfig(_ConfigBlock):
    """Everything needed to build one simulation environment."""

    width: int = 100
    height: int = 100
    seed: int | None = 0
    simulation_id: str | None = None
    memmap: MemmapConfig = field(default_factory=MemmapConfig)
    observation: ObservationConfig = field(default_factory=ObservationConfig)
    resources: ResourceConfig = field(default_factory=ResourceConfig)

    def _validate(self) -> None:
        _require(self.width > 0, "width", "a positive integer", self.width)
        _require(self.height > 0, "height", "a positive integer", self.height)
        if self.memmap.layout == "tiles" and self.memmap.tile_size > max(self.width, self.height):
            raise ConfigFieldError("memmap.tile_size", f"{self.memmap.tile_size} is larger than the "
                                   f"{self.height}x{self.width} world")
        if self.seed is not None:  # numpy's SeedSequence rejects negative seeds
            _require(self.seed >= 0, "seed", "a non-negative integer or null", self.seed)
        if self.simulation_id is not None:
            _require(_SIMULATION_ID.fullmatch(self.simulation_id) is not None, "simulation_id",
                     "1-64 characters of letters, digits, '.', '_' or '-' (used in file names)",
                     self.simulation_id)

    def to_dict(self) -> dict[str, typing.Any]:
        """A nested plain dict of built-in types, serialisable as JSON or YAML."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, typing.Any]) -> SimulationConfig:
        """Build from a nested mapping; absent keys take defaults, unknown keys raise ConfigError."""
        return _block_from_mapping(cls, data, "")

    @classmethod
    def from_yaml(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Load from a YAML file (parsed with yaml.safe_load)."""
        return cls._from_file(path, "YAML")

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Load from a JSON file."""
        return cls._from_file(path, "JSON")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> SimulationConfig:
        """Load from a .yaml/.yml or .json file, chosen by suffix."""
        return cls._from_file(path, _format_for(_config_path(path)))

    def with_overrides(self, overrides: Iterable[str] | Mapping[str, object]) -> SimulationConfig:
        """A copy with dotted keys replaced: ``["observation.radius=8"]`` or ``{"seed": None}``.

        String values are parsed by the target field's type (so ``"8"`` sets an int field to 8).
        """
        data = self.to_dict()
        for dotted, value, is_text in _parsed_overrides(overrides):
            hint = _field_hint_at(type(self), dotted)
            if is_text:
                value = _coerced_text(dotted, typing.cast(str, value), hint)
            *parents, leaf = dotted.split(".")
            functools.reduce(lambda block, part: block[part], parents, data)[leaf] = value
        return type(self).from_dict(data)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write as YAML or JSON (by suffix), atomically: a temp file then ``os.replace``."""
        target = _config_path(path)
        if not target.parent.is_dir():
            raise ConfigError(f"{target}: cannot save, directory {str(target.parent)!r} does not exist")
        if _format_for(target) == "JSON":
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        else:
            text = yaml.safe_dump(self.to_dict(), sort_keys=False)
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

    @classmethod
    def _from_file(cls, path: str | os.PathLike[str], fmt: str) -> SimulationConfig:
        source = os.fspath(_config_path(path))
        try:
            text = pathlib.Path(source).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{source}: config file not found") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot read config file: {exc}") from exc
        try:
            data = yaml.load(text, Loader=_UniqueKeyLoader) if fmt == "YAML" else json.loads(text, object_pairs_hook=_unique_keys)
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"{source}: malformed {fmt}: {exc}") from None
        except RecursionError:
            raise ConfigError(f"{source}: malformed {fmt}: nested too deeply") from None
        if not isinstance(data, Mapping):
            raise ConfigError(f"{source}: top level must be a mapping of keys, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ConfigFieldError as exc:
            raise exc.from_source(source) from None


def _config_path(path: object) -> pathlib.Path:
    if not isinstance(path, (str, os.PathLike)):
        raise ConfigError(f"a config path must be a str or os.PathLike, got {type(path).__name__} {path!r}")
    return pathlib.Path(path)


def _unique_keys(pairs: list[tuple[str, typing.Any]]) -> dict[str, typing.Any]:
    """JSON object hook: a key given twice is an error, not 'the last one wins'."""
    seen: dict[str, typing.Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


class _UniqueKeyLoader(yaml.SafeLoader):
    """yaml.safe_load that refuses a mapping key given twice."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[typing.Any, typing.Any]:
        keys = [self.construct_object(key, deep=deep) for key, _ in node.value]
        for index, key in enumerate(keys):
            if key in keys[:index]:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping", node.start_mark, f"found duplicate key {key!r}", node.start_mark
                )
        return super().construct_mapping(node, deep=deep)


def _format_for(path: str | os.PathLike[str]) -> str:
    path = _config_path(path)
    suffix = pathlib.Path(path).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return "YAML"
    if suffix == ".json":
        return "JSON"
    raise ConfigError(f"{os.fspath(path)}: unknown config file suffix {suffix!r}; use .yaml, .yml or .json")
