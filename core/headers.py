"""Numbers in HTTP header values (Content-Length, Retry-After, ...): RFC 9110's `1*DIGIT`.

`str.isdigit()` also accepts Unicode digits such as "²" (which `int()` then refuses), and
`int()` refuses strings of more than 4,300 digits: both were ways for a header to raise. Here
only ASCII digits count, and a number is read from at most 18 of them; a longer one is capped
at 10**18, which is more than any size or delay this service compares it with.
"""
from __future__ import annotations

import re

CAP = 10**18
_DIGITS = re.compile(r"[0-9]+")


def header_int(value: str | bytes) -> int | None:
    """The header value as a non-negative integer, or None when it is not all ASCII digits."""
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip(" \t")
    if not _DIGITS.fullmatch(text):
        return None
    return CAP if len(text) > 18 else int(text)
