"""Prefixed, time-ordered identifiers such as `agent_01JD3...`.

The body is a ULID (48-bit millisecond timestamp, 80 random bits, Crockford base32), so ids sort
by creation time and serve directly as pagination cursors.
"""

import re
import secrets
import time

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(prefix: str) -> str:
    """A new id: `{prefix}_` followed by 26 characters that sort by creation time."""
    value = (time.time_ns() // 1_000_000) << 80 | secrets.randbits(80)
    body = "".join(_ALPHABET[(value >> shift) & 31] for shift in range(125, -1, -5))
    return f"{prefix}_{body}"


_ID = re.compile(r"[a-z]+_[0-9A-HJKMNP-TV-Z]{26}")


def is_id(value: str) -> bool:
    """Whether `value` has the shape of an id we issue (any prefix)."""
    return _ID.fullmatch(value) is not None
