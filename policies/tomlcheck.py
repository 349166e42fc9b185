"""Reading a TOML table into a frozen dataclass, checked key by key.

The dataclass is the schema. A field's annotation is the type its key must hold (`int`,
`float`, `int | float`, `bool`, `str`, `tuple[str, ...]`, `tuple[int, ...]`; a TOML array
becomes a tuple), its default is used when the key is absent (no default: the key is
required), and `setting(...)` adds what the annotation cannot say: a line of help, a
minimum, the allowed choices, a wording of what is wanted, a conversion. `load_table`
refuses an unknown key with the nearest known one ("did you mean"), and a missing key,
a wrong type or a value out of range with one line naming the key. `load_bundled` does
the same for a policy file shipped in this package with overrides applied on top.

Messages name a key as `policy key 'min_edits'` when the caller gives a noun, or bare
(`maxlag`) when the caller puts its own `[section]` in front.
"""

from __future__ import annotations

import difflib
import tomllib
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field, field, fields
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar, get_args, get_origin, get_type_hints

from policies.errors import Refusal

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")


class TableError(Refusal, ValueError):
    """A key of a table is unknown, missing, of the wrong type or out of range."""


def setting(
    default: Any = MISSING,
    *,
    help: str = "",
    minimum: int | None = None,
    choices: Sequence[object] = (),
    wanted: str = "",
    convert: Callable[[Any], Any] | None = None,
) -> Any:
    """A dataclass field with what `load_table` checks beyond the field's type.

    `minimum` bounds a number (or each number of a list); `choices` are the only values
    allowed; `wanted` replaces the generated "must be …" wording for every refusal of the
    key; `convert` turns the checked value into the one kept.
    """
    metadata = {
        "help": help,
        "minimum": minimum,
        "choices": tuple(choices),
        "wanted": wanted,
        "convert": convert,
    }
    return field(default=default, metadata=metadata)


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`; did you mean 'x'?` for the nearest choice, or the list of choices if none is near."""
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else f"; known: {', '.join(choices)}"


def load_bundled(
    cls: type[T],
    name: str,
    overrides: Mapping[str, object] | None = None,
    *,
    noun: str = "",
    error: type[TableError] = TableError,
) -> T:
    """The table in this package's file `name`, with `overrides` applied key by key."""
    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    values: dict[str, object] = dict(tomllib.loads(text))
    values.update(overrides or {})
    return load_table(cls, values, noun=noun, error=error)


def load_table(
    cls: type[T],
    values: Mapping[str, object],
    *,
    noun: str = "",
    error: type[TableError] = TableError,
) -> T:
    """An instance of the dataclass `cls` from `values`, or `error` saying what is wrong."""
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        what = f"{noun} key" if noun else "key"
        raise error(f"unknown {what} {unknown[0]!r}{did_you_mean(unknown[0], known)}")
    hints = get_type_hints(cls)
    checked: dict[str, object] = {}
    for spec in fields(cls):
        name = f"{noun} key {spec.name!r}" if noun else spec.name
        if spec.name in values:
            checked[spec.name] = _checked(name, spec, hints[spec.name], values[spec.name], error)
        elif spec.default is MISSING and spec.default_factory is MISSING:
            raise error(f"{name} is missing{_help(spec)}")
    return cls(**checked)


def _checked(
    name: str, spec: Field[Any], kind: object, value: object, error: type[TableError]
) -> object:
    wanted = spec.metadata.get("wanted", "")
    if not _is(kind, value):
        raise error(f"{name} must be {wanted or _describe(kind)}, not {value!r}{_help(spec)}")
    minimum = spec.metadata.get("minimum")
    items = value if isinstance(value, list | tuple) else [value]
    numbers = [n for n in items if isinstance(n, int | float)]
    if minimum is not None and any(n < minimum for n in numbers):
        if wanted:
            raise error(f"{name} must be {wanted}, not {value!r}")
        bound = "must not be negative" if minimum == 0 else f"must be at least {minimum}"
        raise error(f"{name} {bound} (got {value!r})")
    choices = spec.metadata.get("choices", ())
    if choices and value not in choices:
        allowed = [str(c) for c in choices]
        listed = f"{', '.join(allowed[:-1])} or {allowed[-1]}" if len(allowed) > 1 else allowed[0]
        raise error(f"{name} must be {wanted or listed}, not {value!r}")
    if isinstance(value, list):
        value = tuple(value)
    if kind is float and isinstance(value, int):
        value = float(value)
    convert = spec.metadata.get("convert")
    return convert(value) if convert else value


def _is(kind: object, value: object) -> bool:
    """Whether `value` (as TOML gives it) is of the annotated type `kind`."""
    # bool is an int in Python: `min_edits = true` must not pass for a number.
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if isinstance(kind, types.UnionType):
        return any(_is(k, value) for k in get_args(kind))
    if get_origin(kind) is tuple:
        item = get_args(kind)[0]
        return isinstance(value, list | tuple) and all(_is(item, v) for v in value)
    raise TypeError(f"a setting cannot be of type {kind!r}")


def _describe(kind: object) -> str:
    if isinstance(kind, types.UnionType):
        return " or ".join(_describe(k) for k in get_args(kind))
    if get_origin(kind) is tuple:
        item = get_args(kind)[0]
        return "a list of " + {str: "strings", int: "whole numbers"}.get(item, "values")
    names: dict[object, str] = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
    }
    return names.get(kind, str(kind))


def _help(spec: Field[Any]) -> str:
    text = spec.metadata.get("help", "")
    return f" ({text})" if text else ""


def help_of(spec: Field[Any]) -> str:
    """The line of help a field was declared with ("" if none)."""
    return str(spec.metadata.get("help", ""))
