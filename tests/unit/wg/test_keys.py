"""Keys: generation, derivation against wg(8)'s own output, hex round trips, clear errors."""

from __future__ import annotations

import pytest

from webmesh.wg import keys

# Generated with `wg genkey | tee /dev/stderr | wg pubkey` on the test machine.
PRIVATE = "EEXowEQiyBYuGIc/Pexs/nGeUiMXfEmaZJqSEFv+70w="
PUBLIC = "Q/0hCSNy5giwVSDhWR/qFnuo4QtEXW5L/X3Z2WwFeRU="
PRIVATE_HEX = "1045e8c04422c8162e18873f3dec6cfe719e5223177c499a649a92105bfeef4c"


def test_public_key_matches_wg_pubkey() -> None:
    assert keys.public_key(PRIVATE) == PUBLIC


def test_generated_keys_are_valid_and_distinct() -> None:
    a, b = keys.generate_private_key(), keys.generate_private_key()
    assert a != b
    assert len(keys.decode(a)) == 32
    assert keys.validate(keys.public_key(a))
    assert len(keys.decode(keys.generate_preshared_key())) == 32


def test_hex_round_trip() -> None:
    assert keys.to_hex(PRIVATE) == PRIVATE_HEX
    assert keys.from_hex(PRIVATE_HEX) == PRIVATE
    assert keys.from_hex(PRIVATE_HEX.upper()) == PRIVATE


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("not base64!", "not base64"),
        ("AAAA", "3 bytes, want 32"),
        ("", "0 bytes, want 32"),
    ],
)
def test_invalid_base64_keys_say_why(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        keys.validate(bad)
    with pytest.raises(ValueError, match=message):
        keys.public_key(bad)


@pytest.mark.parametrize(("bad", "message"), [("zz" * 32, "not hex"), ("00" * 31, "31 bytes")])
def test_invalid_hex_keys_say_why(bad: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        keys.from_hex(bad)
