"""What the frontier stores and hands out: a queued URL (`Entry`, with its `fingerprint`), and
what a pop leased (`Popped`)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass


def fingerprint(url: str) -> str:
    """8-byte fingerprint of a canonical URL, as 16 hex characters."""
    return hashlib.blake2b(url.encode(), digest_size=8).hexdigest()


@dataclass(frozen=True, slots=True)
class Entry:
    """A queued URL: what the frontier stores, as compact JSON `["fp",depth,"url"]`."""

    fp: str
    depth: int
    url: str

    @classmethod
    def new(cls, url: str, depth: int) -> Entry:
        return cls(fingerprint(url), depth, url)

    def dumps(self) -> str:
        # The fingerprint must stay first: the Lua scripts read it at characters 3-18.
        return json.dumps([self.fp, self.depth, self.url], separators=(",", ":"))

    @classmethod
    def loads(cls, raw: bytes | str) -> Entry:
        fp, depth, url = json.loads(raw)
        return cls(fp, int(depth), url)


@dataclass(frozen=True, slots=True)
class Popped:
    entries: list[Entry]
    next_due: float | None  # when nothing was due: the earliest time a host becomes due
