"""Salesforce record ids: 15-character case-sensitive ids and their 18-character form."""

from __future__ import annotations

import functools
import itertools
import re
import threading

_SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Z0-5]{3})?$")
# Pod identifier characters 4-5 of a real id; fixed so ids look like one org's.
_POD = "5g"


@functools.lru_cache(maxsize=1 << 16)
def _chunk_char(chunk: str) -> str:
    bits = 0
    for i, ch in enumerate(chunk):
        if "A" <= ch <= "Z":
            bits |= 1 << i
    return _SUFFIX_ALPHABET[bits]


def checksum_suffix(id15: str) -> str:
    """The three characters Salesforce appends to make an id case-insensitive."""
    # One character per 5-character chunk; chunks repeat a lot, hence the cache.
    return _chunk_char(id15[0:5]) + _chunk_char(id15[5:10]) + _chunk_char(id15[10:15])


def to_18(record_id: str) -> str:
    """The 18-character form of a 15- or 18-character id (raises ValueError if malformed)."""
    if not _ID_RE.match(record_id):
        raise ValueError(record_id)
    id15 = record_id[:15]
    return id15 + checksum_suffix(id15)


def is_valid(record_id: str) -> bool:
    """True when `record_id` is a well-formed 15- or 18-character id with a matching checksum."""
    if not _ID_RE.match(record_id):
        return False
    return len(record_id) == 15 or checksum_suffix(record_id[:15]) == record_id[15:]


def _base62(n: int, width: int) -> str:
    chars = []
    for _ in range(width):
        n, r = divmod(n, 62)
        chars.append(_BASE62[r])
    return "".join(reversed(chars))


class IdFactory:
    """Hands out unique 18-character ids per key prefix (thread-safe, deterministic order)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

    def new(self, key_prefix: str) -> str:
        """A fresh id for an object whose key prefix is `key_prefix` (3 characters)."""
        with self._lock:
            n = next(self._counter)
        id15 = key_prefix + _POD + "0" + _base62(n, 9)
        return id15 + checksum_suffix(id15)
