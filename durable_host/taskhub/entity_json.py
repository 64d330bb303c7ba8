"""A table entity's JSON body: the tables SDK's own text, its common cases without its dispatch.

`json.dumps(_add_entity_properties(entity))` (azure-data-tables' serializer) is the body the
thin client sends for every row it writes: a checkpoint's history rows, the Instances row's
inserts and merges, about a dozen rows per HTTP start. The SDK looks up a converter for each
property, calls it, reads an enum's value for its EDM annotation, and then `json.dumps`
walks the dict it built. `entity_json` writes the same text directly for the property kinds
the host's rows hold: an exact `str` (annotated `Edm.String`), an exact `bool`, an exact
`int` in Int32's range, None (left out), and an exact `datetime` in UTC from year 1000 on
(annotated `Edm.DateTime`, as the SDK's `strftime("%Y-%m-%dT%H:%M:%S.%fZ")` writes it), each
name and string quoted by the json module's own ASCII encoder, joined with its separators.
Every other value goes through the SDK's serializer and `json.dumps`, one property at a time
in its place; anything but a plain dict (a `TableEntity` with its metadata), whole.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from azure.data.tables._serialize import _add_entity_properties

__all__ = ["entity_json"]

_INT32 = 2**31
_UTC = timezone.utc
# json.dumps' text of a string (ASCII, as its default ensure_ascii), from the json module's C code.
_quoted = json.encoder.encode_basestring_ascii
# Per property name: the text before its value and, for a string or a time, its annotation.
_names: dict[str, tuple[str, str, str]] = {}


def _name(name: str) -> tuple[str, str, str]:
    texts = _names.get(name)
    if texts is None:
        if len(_names) > 4096:
            _names.clear()
        key, annotation = _quoted(name), _quoted(name + "@odata.type")
        texts = _names[name] = (
            key + ": ",
            f', {annotation}: "Edm.String"',
            f', {annotation}: "Edm.DateTime"',
        )
    return texts


def entity_json(entity: Mapping[str, Any]) -> str:
    """`json.dumps(_add_entity_properties(entity))`: the same text."""
    if type(entity) is not dict:
        return json.dumps(_add_entity_properties(entity))
    parts: list[str] = []
    for name, value in entity.items():
        kind = type(value)
        if kind is str:
            key, string, _ = _name(name)
            parts.append(key + _quoted(value) + string)
        elif kind is bool:
            parts.append(_name(name)[0] + ("true" if value else "false"))
        elif kind is int and -_INT32 <= value < _INT32:
            parts.append(_name(name)[0] + int.__repr__(value))
        elif value is None:
            continue
        elif kind is datetime and value.tzinfo is _UTC and value.year >= 1000:
            key, _, time = _name(name)
            parts.append(
                f'{key}"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:'
                f'{value.minute:02d}:{value.second:02d}.{value.microsecond:06d}Z"{time}'
            )
        else:
            text = json.dumps(_add_entity_properties({name: value}))
            if text != "{}":
                parts.append(text[1:-1])
    return "{" + ", ".join(parts) + "}"
