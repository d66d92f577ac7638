"""What a frontier script is: its Lua and the `JobKeys` attributes it is given as KEYS[]."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Script:
    """A Lua script and the job keys it is given."""

    keys: tuple[str, ...]  # `JobKeys` attributes, in KEYS[] order
    lua: str


def _script(keys: str, body: str) -> Script:
    """Declare the keys `body` uses (space-separated `JobKeys` attributes): the script starts
    by binding each KEYS[i] to a local named after its attribute, and ARGV[1] to `queues`."""
    names = tuple(keys.split())
    bound = ", ".join(f"KEYS[{i}]" for i in range(1, len(names) + 1))
    prologue = f"local {', '.join(names)} = {bound}\nlocal queues = ARGV[1]\n"
    return Script(names, prologue + body)
