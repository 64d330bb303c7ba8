import pytest

from durable_host.errors import MessageFormatError
from durable_host.taskhub.key_escaping import escape_partition_key, unescape_partition_key

# (instance id, PartitionKey) pairs written by hand from docs/task-hub-layout.md §3.
CASES = [
    ("abc123", "abc123"),
    ("", ""),
    ("@counter@mykey", "@counter@mykey"),
    ("a^b", "a^^b"),
    ("a/b", "a^0b"),
    ("a\\b", "a^1b"),
    ("a#b", "a^2b"),
    ("a?b", "a^3b"),
    ("^/\\#?", "^^^0^1^2^3"),
    ("\x00", "^\u00c0"),
    ("\x1f", "^\u00df"),
    ("\x7f", "^\u013f"),
    ("\x9f", "^\u015f"),
    ("tab\there", "tab^\u00c9here"),
    ("new\nline", "new^\u00caline"),
    ("\xa0", "\xa0"),
    ("héllo wörld ✓ 𝄞", "héllo wörld ✓ 𝄞"),
    ("^0", "^^0"),
    ("x^", "x^^"),
]


@pytest.mark.parametrize(("instance_id", "key"), CASES)
def test_escape(instance_id: str, key: str) -> None:
    assert escape_partition_key(instance_id) == key


@pytest.mark.parametrize(("instance_id", "key"), CASES)
def test_unescape(instance_id: str, key: str) -> None:
    assert unescape_partition_key(key) == instance_id


ROUND_TRIP = [
    "".join(chr(c) for c in range(0x00, 0x20)),
    "".join(chr(c) for c in range(0x7F, 0xA0)),
    "".join(chr(c) for c in range(0x20, 0x7F)),
    "^^^^",
    "^0^1^2^3",
    "orders/2024#1?x=\\y",
    "\u00c0\u00df^\u00c0",
    "@entity@key with spaces",
]


@pytest.mark.parametrize("instance_id", ROUND_TRIP)
def test_round_trip(instance_id: str) -> None:
    key = escape_partition_key(instance_id)
    assert unescape_partition_key(key) == instance_id
    assert not any(ch in key for ch in "/\\#?")
    assert not any(ord(ch) <= 0x1F or 0x7F <= ord(ch) <= 0x9F for ch in key)


def test_escape_is_injective_on_tricky_pairs() -> None:
    assert escape_partition_key("^0") != escape_partition_key("/")
    assert escape_partition_key("^\u00c0") != escape_partition_key("\x00")


def test_lone_trailing_escape_is_rejected() -> None:
    with pytest.raises(MessageFormatError, match="lone"):
        unescape_partition_key("abc^")


def _escaped_char_by_char(instance_id: str) -> str:
    """The rule of docs/task-hub-layout.md §3 applied to each character, with no shortcut."""
    out = []
    for ch in instance_id:
        if ch in "^/\\#?":
            out.append("^" + "^0123"["^/\\#?".index(ch)])
        elif ord(ch) <= 0x1F or 0x7F <= ord(ch) <= 0x9F:
            out.append("^" + chr(ord(ch) + 0xC0))
        else:
            out.append(ch)
    return "".join(out)


def test_ids_without_a_character_to_escape_are_their_own_key_and_the_rest_are_escaped() -> None:
    # Every code point alone and inside an id: the shortcut for ids with nothing to escape
    # must never skip a character the rule changes.
    for code in range(0x110000):
        if 0xD800 <= code <= 0xDFFF:
            continue  # surrogates are not characters of a str an id can come from
        ch = chr(code)
        assert escape_partition_key(ch) == _escaped_char_by_char(ch), hex(code)
        if code < 0x3000:
            inside = f"order-{ch}-42"
            assert escape_partition_key(inside) == _escaped_char_by_char(inside), hex(code)
