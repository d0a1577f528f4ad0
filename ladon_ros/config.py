"""One way configuration reaches the core: dataclass fields that describe themselves.

A config is a (frozen) dataclass whose fields are declared with ``param(...)``: default,
description, inclusive numeric range and an extra check are written once, as field
metadata. ``from_mapping(cls, mapping)`` turns a plain mapping (YAML, ROS parameters,
command-line values) into ``cls``: it refuses unknown keys, wrong types, non-finite or
out-of-range numbers and failed checks, recurses into nested config dataclasses, and then
constructs the dataclass, whose ``__post_init__`` does the cross-field checks. Every refusal
is one ``ConfigError`` whose message starts with the key's dotted path (``teacher.lr: ...``).

The ROS node parameters (``ladon_ros.ros.params``: declare, read, the shipped YAML) and the
training configs (``ladon_ros.train.config``) are built on this module. No ROS here.
"""
from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

_META = 'ladon_param'


class ConfigError(ValueError):
    """A configuration value that is refused; the message starts with the key's name."""


@dataclass(frozen=True)
class ParamSpec:
    """What ``param`` stores in a field's metadata.

    Attributes:
        description: What the value does, with units.
        range: Inclusive (low, high) for numbers (declared as the ROS range of a node parameter).
        check: Extra validation of the value; raises ``ValueError`` with a human message.
    """

    description: str
    range: tuple[float, float] | None = None
    check: Callable[[Any], None] | None = None


def param(default: Any = dataclasses.MISSING, description: str = '', *,
          range: tuple[float, float] | None = None,  # noqa: A002 - the word the tables use
          check: Callable[[Any], None] | None = None, **field_kwargs) -> Any:
    """A config field: ``name: type = param(default, 'what it does [unit]', range=(lo, hi))``.

    Args:
        default: Default value (omit for a required key). Lists are stored as tuples, so
            frozen configs stay hashable and a default cannot be mutated.
        description: What it does, with units.
        range: Inclusive numeric bounds.
        check: Extra validation; raises ``ValueError``.
        **field_kwargs: Passed to ``dataclasses.field`` (e.g. ``compare=False``).
    """
    if isinstance(default, list):
        default = tuple(default)
    spec = ParamSpec(description=description, range=range, check=check)
    return dataclasses.field(default=default, metadata={_META: spec}, **field_kwargs)


@dataclass(frozen=True)
class Param:
    """One config key as seen from outside: a ``param`` field with its resolved type."""

    name: str
    type: Any
    default: Any
    description: str
    range: tuple[float, float] | None = None
    check: Callable[[Any], None] | None = None

    @property
    def required(self) -> bool:
        """Whether the mapping must give this key (no default)."""
        return self.default is dataclasses.MISSING


def params_of(cls: type) -> tuple[Param, ...]:
    """The ``param`` fields of config dataclass ``cls``, in declaration order."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get(_META)
        if spec is not None:
            out.append(Param(f.name, hints[f.name], f.default, spec.description, spec.range, spec.check))
    return tuple(out)


def defaults(cls: type) -> dict[str, Any]:
    """name -> default of every ``param`` field with one (tuples as lists, as YAML writes them)."""
    return {p.name: list(p.default) if isinstance(p.default, tuple) else p.default
            for p in params_of(cls) if not p.required}


def from_mapping(cls: type, mapping: Any, *, path: str = '', **fixed):
    """Validates ``mapping`` (key -> value; missing keys take their default) into ``cls``.

    Args:
        cls: A dataclass whose configurable fields are ``param`` fields.
        mapping: The values, e.g. from ``yaml.safe_load`` or a node's parameters.
        path: Dotted prefix of the keys in error messages (set for nested configs).
        **fixed: Values of ``cls``'s fields that are not ``param`` fields (e.g. where the
            config was read from); passed through unchecked.

    Raises:
        ConfigError: Not a mapping, an unknown or missing key, a wrong type, a number out
            of range or not finite, a failed check, or a cross-field check of ``cls``.
    """
    where = path.rstrip('.') or cls.__name__
    if not isinstance(mapping, Mapping):
        raise ConfigError(f'{where}: expected a mapping, got {type(mapping).__name__}')
    table = params_of(cls)
    unknown = sorted(str(k) for k in set(mapping) - {p.name for p in table})
    if unknown:
        raise ConfigError(f'{", ".join(path + k for k in unknown)}: unknown parameter(s); '
                          f'known: {[p.name for p in table]}')
    kwargs = dict(fixed)
    for p in table:
        key = f'{path}{p.name}'
        if p.name not in mapping and p.required:
            raise ConfigError(f'{key}: missing (required)')
        # defaults go through the same checks: a bad default is a bug found at first use
        value = _convert(key, p.type, mapping.get(p.name, p.default))
        if p.range is not None and value is not None and not p.range[0] <= value <= p.range[1]:
            raise ConfigError(f'{key}: {value} is outside [{p.range[0]}, {p.range[1]}]')
        if p.check is not None and value is not None:
            try:
                p.check(value)
            except ConfigError:
                raise
            except ValueError as err:
                raise ConfigError(f'{key}: {err}') from None
        kwargs[p.name] = value
    try:
        return cls(**kwargs)
    except ConfigError as err:  # a cross-field check names its key relative to cls
        raise ConfigError(f'{path}{err}') from None


def _convert(key: str, want: Any, value: Any) -> Any:
    """``value`` checked against type annotation ``want`` (int -> float and list -> tuple allowed)."""
    origin = typing.get_origin(want)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(want)
        if value is None and type(None) in options:
            return None
        rest = [o for o in options if o is not type(None)]
        if len(rest) != 1:
            raise TypeError(f'{key}: only "X | None" unions are supported, not {want}')
        return _convert(key, rest[0], value)
    if dataclasses.is_dataclass(want):
        if isinstance(value, want):  # a default that is already a config
            return value
        return from_mapping(want, value, path=f'{key}.')
    if origin is tuple:
        item, *more = typing.get_args(want)
        if more != [Ellipsis]:
            raise TypeError(f'{key}: only tuple[X, ...] is supported, not {want}')
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f'{key}: expected a list of {item.__name__}, got {type(value).__name__} {value!r}')
        return tuple(_convert(f'{key}[{i}]', item, v) for i, v in enumerate(value))
    if want is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, want) or (want is int and isinstance(value, bool)):
        raise ConfigError(f'{key}: expected {want.__name__}, got {type(value).__name__} {value!r}')
    if want is float and not math.isfinite(value):
        raise ConfigError(f'{key}: {value} is not finite')
    return value


# --- reusable checks (raise ValueError; from_mapping names the key) ----------------------

def one_of(*options: str) -> Callable[[Any], None]:
    """Check: the value is one of ``options``."""
    def check(value: str) -> None:
        if value not in options:
            raise ValueError(f'{value!r} is not one of {list(options)}')
    return check


def each(check: Callable[[Any], None]) -> Callable[[tuple], None]:
    """Check: ``check`` holds for every item of a list value."""
    def check_all(values: tuple) -> None:
        for v in values:
            check(v)
    return check_all


def positive(value: float) -> None:
    """Check: the value is > 0 (ranges are inclusive, so a strict bound needs this)."""
    if value <= 0:
        raise ValueError(f'{value} must be > 0')
