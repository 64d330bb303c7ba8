"""PartitionKey escaping for the History and Instances tables (docs/task-hub-layout.md §3).

Table keys may not contain `/`, `\\`, `#`, `?` or control characters, yet
instance ids may. DurableTask.AzureStorage escapes them with `^`, so a task hub
written here keys its rows exactly as the real provider does.
"""

from __future__ import annotations

import re

from durable_host.errors import MessageFormatError

__all__ = ["escape_partition_key", "is_control_character", "unescape_partition_key"]

_ESCAPE = "^"
# Control characters are shifted into the printable Latin-1 Supplement / Latin Extended-A range.
_CONTROL_OFFSET = 0xC0

_ESCAPES = {"^": "^", "/": "0", "\\": "1", "#": "2", "?": "3"}
_UNESCAPES = {code: char for char, code in _ESCAPES.items()}
# Any character escape_partition_key changes: most ids have none and are their own key.
_NEEDS_ESCAPE = re.compile(r"[\^/\\#?\x00-\x1f\x7f-\x9f]")


def is_control_character(code_point: int) -> bool:
    return code_point <= 0x1F or 0x7F <= code_point <= 0x9F


def escape_partition_key(instance_id: str) -> str:
    """The PartitionKey under which `instance_id`'s rows are stored."""
    if _NEEDS_ESCAPE.search(instance_id) is None:
        return instance_id
    out: list[str] = []
    for ch in instance_id:
        code = _ESCAPES.get(ch)
        if code is not None:
            out.append(_ESCAPE + code)
        elif is_control_character(ord(ch)):
            out.append(_ESCAPE + chr(ord(ch) + _CONTROL_OFFSET))
        else:
            out.append(ch)
    return "".join(out)


def unescape_partition_key(key: str) -> str:
    """The instance id stored under PartitionKey `key` (inverse of `escape_partition_key`)."""
    out: list[str] = []
    chars = iter(key)
    for ch in chars:
        if ch != _ESCAPE:
            out.append(ch)
            continue
        escaped = next(chars, None)
        if escaped is None:
            raise MessageFormatError(
                f"PartitionKey {key!r} ends with a lone '^' escape; it was not written by "
                "a Durable Task Azure Storage provider. Delete or fix that row."
            )
        plain = _UNESCAPES.get(escaped)
        if plain is None:
            # Shifted control character; anything below the offset is kept as is, as .NET does.
            code = ord(escaped)
            plain = chr(code - _CONTROL_OFFSET) if code >= _CONTROL_OFFSET else escaped
        out.append(plain)
    return "".join(out)
