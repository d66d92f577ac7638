"""The frontier's Lua scripts. Each runs atomically in Redis, so many workers share one frontier.

Layout (see keys.py): one sorted set per host, scored by priority (by default the depth, so a
host is crawled breadth-first) then arrival, a sorted set `due` of hosts scored by the time each
may next be fetched, a set `seen` of 8-byte fingerprints,
and a hash `leases` of popped entries not yet recorded. A host stays in `due` while it has work or
a request in flight; while in flight its score is the lease deadline, which is what makes it
"at most one request in flight per host" across all workers.

No key name is written here. Each script declares the `JobKeys` attributes it touches; the
frontier passes those keys as KEYS[], in that order, and each is bound to a Lua local of the same
name. Per-host queue keys are `JobKeys.queue_prefix` (always ARGV[1], the local `queues`) joined
with the host, since POP learns its host only inside Redis. All keys share one hash tag, so
every key a script touches lives in one cluster slot: a frontier partition's
(crawler/frontier/partitions.py; with P = 1, the job's own), or for RESERVE the job's own.

The scripts are grouped by what they serve: script.py (what a script is), add.py (queueing and
dedupe), pop.py (popping, releasing, the page budget), returns.py (retries, returned and lost
leases, poison), acks.py (leases held, acknowledged, renewed, claimed). Every one is re-exported
here: whatever lists the frontier's scripts (`vars(scripts)`) finds them all.
"""

from __future__ import annotations

from crawler.frontier.bloom import FIRST_SEEN
from crawler.frontier.scripts.acks import ACK, CLAIM, MARK_DONE, RENEW
from crawler.frontier.scripts.add import ADD, ADD_BLOOM, ADD_BODY, EXACT_SEEN
from crawler.frontier.scripts.pop import POP, RELEASE, RESERVE, SETTLE
from crawler.frontier.scripts.returns import (
    PUSH_FIRST,
    RETRY,
    RETURN_LEASES,
    RETURN_LOST,
    TAKE_POISONED,
)
from crawler.frontier.scripts.script import Script, _script

__all__ = [
    "ACK",
    "ADD",
    "ADD_BLOOM",
    "ADD_BODY",
    "CLAIM",
    "EXACT_SEEN",
    "FIRST_SEEN",
    "MARK_DONE",
    "POP",
    "PUSH_FIRST",
    "RELEASE",
    "RENEW",
    "RESERVE",
    "RETRY",
    "RETURN_LEASES",
    "RETURN_LOST",
    "SETTLE",
    "TAKE_POISONED",
    "Script",
    "_script",
]
