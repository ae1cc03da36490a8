"""Stored JSON back into frozen dataclasses, checked against their fields and closed sets."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from bench.core.errors import RecordFormatError

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
_NON_FINITE = ("nan", "inf", "-inf")  # how the writer stores floats JSON has no literal for
_HINTS: dict[type, dict[str, Any]] = {}


def decode(cls: type[T], data: Any, source: str, where: str = "") -> T:
    """`cls` from a JSON object: an unknown key is an error naming the field and the file;
    a missing field with a default keeps it; a missing required field is an error."""
    if not isinstance(data, Mapping):
        raise RecordFormatError(f"{source}: {where or 'the record'} is not a JSON object")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in data:
        if key not in fields:
            raise RecordFormatError(
                f"{source}: unknown field '{_join(where, key)}' (known: {', '.join(fields)}); "
                "the file was written or edited by something other than this accelbench"
            )
    for name, f in fields.items():
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and name not in data:
            raise RecordFormatError(f"{source}: missing field '{_join(where, name)}'")
    hints = _hints(cls)
    values = {k: _value(hints[k], v, source, _join(where, k)) for k, v in data.items()}
    return cls(**values)


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:  # resolving the annotations is slow; a file holds many records
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _value(tp: Any, value: Any, source: str, where: str) -> Any:
    """One stored value as the field's type wants it (tuples, floats, nested records)."""
    origin = typing.get_origin(tp)
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(tp), value, source, where)
    if origin is Literal:
        return _literal(typing.get_args(tp), value, source, where)
    if origin in (tuple, Mapping) and not isinstance(value, list if origin is tuple else Mapping):
        kind = "a JSON list" if origin is tuple else "a JSON object"
        raise RecordFormatError(f"{source}: field '{where}' is {value!r}, not {kind}")
    if origin is tuple:
        item = typing.get_args(tp)[0]
        if item is int or item is str:  # raw samples and stamps: many, and nothing to convert
            return tuple(value)
        if item is float:
            return tuple(float(v) if isinstance(v, str) and v in _NON_FINITE else v for v in value)
        return tuple(_value(item, v, source, f"{where}[{i}]") for i, v in enumerate(value))
    if origin is Mapping:
        item = typing.get_args(tp)[1]
        return {str(k): _value(item, v, source, f"{where}.{k}") for k, v in value.items()}
    if tp is float and isinstance(value, str) and value in _NON_FINITE:
        return float(value)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return decode(tp, value, source, where)
    return value


def _union(args: tuple[Any, ...], value: Any, source: str, where: str) -> Any:
    if value is None and type(None) in args:
        return None
    rest = [a for a in args if a is not type(None)]
    if all(typing.get_origin(a) is Literal for a in rest):
        allowed = tuple(v for a in rest for v in typing.get_args(a))
        return _literal(allowed, value, source, where)
    if len(rest) == 1:
        return _value(rest[0], value, source, where)
    raise TypeError(f"{where}: cannot decode a union of {rest}")  # a record type this cannot read


def _literal(allowed: tuple[Any, ...], value: Any, source: str, where: str) -> Any:
    if isinstance(value, str) and value in allowed:
        return value
    known = ", ".join(repr(a) for a in allowed)
    raise RecordFormatError(f"{source}: field '{where}' has value {value!r} (known: {known})")
