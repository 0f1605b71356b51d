"""Opaque page cursors: the last item's (rank, id), signed and bound to the query text."""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass

from .errors import InvalidCursor


@dataclass(frozen=True)
class Position:
    rank: float
    id: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: str, q: str, payload: bytes) -> bytes:
    message = hashlib.sha256(q.encode()).digest() + payload
    return hmac.new(key.encode(), message, hashlib.sha256).digest()[:16]


def encode(key: str, q: str, position: Position) -> str:
    payload = json.dumps([position.rank, position.id], separators=(",", ":")).encode()
    return f"{_b64(payload)}.{_b64(_mac(key, q, payload))}"


def decode(key: str, q: str, cursor: str) -> Position:
    """The position inside `cursor`; InvalidCursor unless this service signed it for `q`."""
    try:
        payload_part, mac_part = cursor.split(".")
        payload, mac = _unb64(payload_part), _unb64(mac_part)
    except (ValueError, binascii.Error):
        raise InvalidCursor from None
    if not hmac.compare_digest(mac, _mac(key, q, payload)):
        raise InvalidCursor
    rank, article_id = json.loads(payload)
    return Position(float(rank), int(article_id))
