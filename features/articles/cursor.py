"""Opaque keyset cursors: the (created_at, id) of the last article on a page.

A cursor is base64url of version, created_at in microseconds since the epoch and id, followed by
a short checksum. The checksum is not a secret: it turns a mangled or hand-edited cursor into 422
instead of a silently different page; a forged one can only point at a place in a public list.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from .errors import BadCursor

_VERSION = 1
_LAYOUT = struct.Struct(">Bqq")
_CHECK_BYTES = 7  # 17 + 7 = 24 bytes: 32 base64 characters, no padding bits to play with
_KEY = b"articles-cursor"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ENCODED_LENGTH = len(base64.urlsafe_b64encode(bytes(_LAYOUT.size + _CHECK_BYTES)).rstrip(b"="))


class Position(NamedTuple):
    created_at: datetime
    id: int


def micros(moment: datetime) -> int:
    """Microseconds since the epoch, exact (no float on the way)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


def from_micros(value: int) -> datetime:
    """Raises OverflowError (or ValueError) when the value is outside datetime's range."""
    return _EPOCH + timedelta(microseconds=value)


def _check(payload: bytes) -> bytes:
    return hashlib.blake2b(payload, digest_size=_CHECK_BYTES, key=_KEY).digest()


def encode(position: Position) -> str:
    payload = _LAYOUT.pack(_VERSION, micros(position.created_at), position.id)
    return base64.urlsafe_b64encode(payload + _check(payload)).rstrip(b"=").decode("ascii")


def decode(cursor: str) -> Position:
    """The position a cursor names; BadCursor (422) for anything this module did not write."""
    if len(cursor) != ENCODED_LENGTH or not cursor.isascii():
        raise BadCursor
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise BadCursor from None
    payload, check = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    if check != _check(payload):
        raise BadCursor
    version, created_us, article_id = _LAYOUT.unpack(payload)
    if version != _VERSION or article_id < 1:
        raise BadCursor
    try:
        return Position(from_micros(created_us), article_id)
    except (OverflowError, ValueError):
        raise BadCursor from None
