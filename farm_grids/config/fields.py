"""The machinery under the config dataclasses: typed fields, nested blocks, key aliases and dot-key overrides."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import functools
import math
import numbers
import types
import typing
from collections.abc import Iterable, Mapping

from farm_grids.errors import ConfigError, ConfigFieldError

__all__ = [
    "ConfigBlock", "block_from_mapping", "canonical_key", "coerced_text", "field_hint_at", "join_key",
    "parsed_overrides", "require", "require_choice",
]

_TRUE_WORDS = frozenset({"true", "yes", "1", "on"})
_FALSE_WORDS = frozenset({"false", "no", "0", "off"})
_NULL_WORDS = frozenset({"null", "none", ""})


def join_key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def require(ok: bool, key: str, expectation: str, value: object) -> None:
    if not ok:
        raise ConfigFieldError(key, f"must be {expectation}, got {value!r}")


def require_choice(key: str, value: str, choices: tuple[str, ...]) -> None:
    require(value in choices, key, f"one of {', '.join(choices)}", value)


@functools.cache
def field_hints(cls: type) -> dict[str, typing.Any]:
    """The type hints of the dataclass fields of ``cls`` (class variables such as KEY_ALIASES left out)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls)}


def key_aliases(cls: type) -> Mapping[str, str]:
    """Other names a block accepts for its keys (alias -> field name)."""
    return typing.cast(Mapping[str, str], getattr(cls, "KEY_ALIASES", {}))


def unwrap_optional(hint: typing.Any) -> tuple[typing.Any, bool]:
    """Split ``X | None`` into ``(X, True)``; anything else into ``(hint, False)``."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))  # only X | None
        return inner, True
    return hint, False


def is_block(hint: typing.Any) -> bool:
    return isinstance(hint, type) and dataclasses.is_dataclass(hint)


def checked_value(key: str, value: object, hint: typing.Any) -> object:
    """Return ``value`` normalised to the field type, or raise naming ``key``."""
    base, optional = unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise ConfigFieldError(key, "must not be null")
    if base is bool:
        require(isinstance(value, bool), key, "a boolean", value)
        return value
    if base is int:
        # bool is an int subclass; accepting it would let `radius: true` mean 1.
        is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
        integral = is_number and (isinstance(value, numbers.Integral) or float(value).is_integer())
        require(integral, key, "an integer", value)
        return int(value)
    if base is float:
        require(isinstance(value, numbers.Real) and not isinstance(value, bool), key, "a number", value)
        require(math.isfinite(value), key, "a finite number", value)
        return float(value)
    if base is str:
        require(isinstance(value, str), key, "a string", value)
        return value
    if is_block(base):
        require(isinstance(value, base), key, f"a {base.__name__}", value)
        return value
    raise TypeError(f"unsupported config field type {hint!r} for {key}")


def coerced_text(key: str, text: str, hint: typing.Any) -> object:
    """Parse an override string by the target field's type (validation happens afterwards)."""
    base, optional = unwrap_optional(hint)
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


def unknown_key(cls: type, prefix: str, name: object) -> ConfigFieldError:
    known = [f.name for f in dataclasses.fields(cls)]
    # Match the leaf only (a shared "resources." prefix makes every key look close); a truncated
    # key ("flush" for "flush_policy") scores low in difflib, so try prefixes first.
    leaf = str(name)
    close = [k for k in known if leaf and k.startswith(leaf)] or difflib.get_close_matches(leaf, known, n=1)
    hint = f"did you mean {join_key(prefix, close[0])!r}?" if close else "valid keys: " + ", ".join(known)
    return ConfigFieldError(join_key(prefix, leaf) or "''", f"unknown key; {hint}")


class ConfigBlock:
    """Shared behaviour of every config dataclass: generic type checks, then per-class ranges."""

    # Other names accepted for a key in mappings and dot-key overrides (alias -> field name).
    KEY_ALIASES: typing.ClassVar[Mapping[str, str]] = {}

    def __post_init__(self) -> None:
        hints = field_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = checked_value(f.name, getattr(self, f.name), hints[f.name])
            object.__setattr__(self, f.name, value)  # frozen: normalise (e.g. 8.0 -> 8) in place
        self._validate()

    def _validate(self) -> None:
        """Range and choice checks; overridden per class."""


def block_from_mapping(cls: type, data: object, prefix: str) -> typing.Any:
    """Build dataclass ``cls`` from a mapping; missing keys take defaults, unknown keys raise."""
    if not isinstance(data, Mapping):
        if prefix:
            raise ConfigFieldError(prefix, f"must be a mapping of keys, got {data!r}")
        raise ConfigError(f"config must be a mapping of keys, got {type(data).__name__}")
    hints = field_hints(cls)
    aliases = key_aliases(cls)
    kwargs: dict[str, object] = {}
    for given, value in data.items():
        name = aliases.get(given, given) if isinstance(given, str) else given
        if not isinstance(name, str) or name not in hints:
            raise unknown_key(cls, prefix, given)
        if name in kwargs:  # an alias and its field both given: which one is meant is a guess
            raise ConfigFieldError(join_key(prefix, given), f"is another name for {join_key(prefix, name)!r}; "
                                   "give only one of them")
        hint = unwrap_optional(hints[name])[0]
        kwargs[name] = block_from_mapping(hint, value, join_key(prefix, name)) if is_block(hint) else value
    try:
        return cls(**kwargs)
    except ConfigFieldError as exc:
        raise exc.within(prefix) from None


def canonical_key(cls: type, dotted: str) -> str:
    """``dotted`` with every aliased part replaced by its field name (``storage.backend`` -> ``memmap.backend``)."""
    parts: list[str] = []
    block: type | None = cls
    for part in dotted.split("."):
        name = key_aliases(block).get(part, part) if block is not None else part
        parts.append(name)
        hint = field_hints(block).get(name) if block is not None else None
        base = unwrap_optional(hint)[0] if hint is not None else None
        block = base if is_block(base) else None
    return ".".join(parts)


def field_hint_at(cls: type, dotted: str) -> typing.Any:
    """The type hint of the leaf field named by ``dotted``; raises on unknown or block paths."""
    parts = dotted.split(".")
    prefix = ""
    for index, part in enumerate(parts):
        hints = field_hints(cls)
        if part not in hints:
            raise unknown_key(cls, prefix, part)
        prefix = join_key(prefix, part)
        base = unwrap_optional(hints[part])[0]
        if index == len(parts) - 1:
            if is_block(base):
                first = dataclasses.fields(base)[0].name
                raise ConfigFieldError(dotted, f"is a block; override one of its keys, e.g. {dotted}.{first}=...")
            return hints[part]
        if not is_block(base):
            raise ConfigFieldError(dotted, f"unknown key; {prefix!r} is not a block")
        cls = base
    raise AssertionError("unreachable: str.split always yields at least one part")


def parsed_overrides(overrides: Iterable[str] | Mapping[str, object]) -> list[tuple[str, object, bool]]:
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
