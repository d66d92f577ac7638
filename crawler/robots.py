"""robots.txt per RFC 9309, for one crawler product token.

Written here rather than delegated to Protego because Protego disagrees with Google's
reference test suite on group boundaries, user-agent values with spaces and percent-encoding
(see tests/test_robots_conformance.py). Semantics:

* groups: consecutive user-agent lines share the rules that follow them; lines other than
  allow/disallow/crawl-delay (sitemap, unknown keys, blank lines) do not end a group; every
  group naming our token applies (merged), else the `*` groups, else everything is allowed;
* a user-agent value counts up to its first character outside [A-Za-z_-] ("Foo Bar" is
  "foo"), compared case-insensitively with the caller's token taken as-is;
* the longest matching pattern wins, allow wins ties; `*` matches any run, a final `$`
  anchors; patterns get non-ASCII octets percent-encoded and %xx escapes upper-cased;
* the URL is compared as given (path, params and query): the crawler only passes
  WHATWG-serialised URLs, which are already percent-encoded; /robots.txt is always allowed.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "MAX_ROBOTS_BYTES",
    "RobotsPolicy",
    "cut_at_line",
    "normalise_pattern",
    "url_path_for_robots",
    "valid_product_token",
]

# RFC 9309 2.5: crawlers MUST parse at least the first 500 KiB. The default budget of
# from_fetch; the crawler passes LINKGRAPH_ROBOTS_MAX_BYTES instead.
MAX_ROBOTS_BYTES = 512 * 1024

_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_TOKEN_PREFIX = re.compile(r"[A-Za-z_-]*")
_PRODUCT_TOKEN = re.compile(r"[A-Za-z_-]+")
_MAGIC = b"robots/1 "
_PATH_START = re.compile(r"[/?;]")
_ESCAPE = re.compile(r"%[0-9a-f]{2}", re.IGNORECASE)


def valid_product_token(agent: str) -> bool:
    """Whether `agent` is a product token a robots.txt group can name (RFC 9309 2.2.1)."""
    return _PRODUCT_TOKEN.fullmatch(agent) is not None


def url_path_for_robots(url: str) -> str:
    """Path, params and query of `url` (no fragment), "/" when it has none.

    Also copes with scheme-less and relative inputs ("example.com/a" -> "/a") the way
    Google's reference matcher does.
    """
    start = 2 if url.startswith("//") else 0
    scheme_end = url.find("://", start)
    if scheme_end >= 0:
        # "://" only ends a scheme when no path, params or query started before it.
        early = _PATH_START.search(url, start)
        if early is None or scheme_end < early.start():
            start = scheme_end + 3
    found = _PATH_START.search(url, start)
    if found is None:
        return "/"
    begin = found.start()
    end = url.find("#", start)
    if 0 <= end < begin:
        return "/"
    path = url[begin:] if end < 0 else url[begin:end]
    return path if path[0] == "/" else "/" + path


def cut_at_line(body: bytes, limit: int) -> bytes:
    """The first `limit` bytes of `body`, less the line the limit falls in: a rule cut short
    could mean more than it says ("Disallow: /private" cut to "Disallow: /" blocks the whole
    site). A body within the limit is kept whole, its last line too."""
    if len(body) <= limit:
        return body
    kept = body[:limit]
    return kept[: max(kept.rfind(b"\n"), kept.rfind(b"\r")) + 1]


def _upper(match: re.Match[str]) -> str:
    return match.group().upper()


def normalise_pattern(pattern: str) -> str:
    """Percent-encode non-ASCII characters (as UTF-8) and upper-case existing escapes."""
    if "%" in pattern:
        pattern = _ESCAPE.sub(_upper, pattern)
    if pattern.isascii():
        return pattern
    return "".join(c if c.isascii() else "".join(f"%{b:02X}" for b in c.encode()) for c in pattern)


class Rule:
    """One allow/disallow line: literal runs split on `*`, maybe anchored by a final `$`."""

    __slots__ = ("allow", "anchored", "head", "length", "tail")

    def __init__(self, pattern: str, allow: bool) -> None:
        self.length = len(pattern)  # priority counts the pattern as written, `*` and `$` too
        self.allow = allow
        self.anchored = pattern.endswith("$")
        head, *tail = (pattern[:-1] if self.anchored else pattern).split("*")
        self.head = head
        self.tail = tuple(tail)

    def priority(self) -> tuple[int, bool]:
        return -self.length, not self.allow

    def matches(self, path: str) -> bool:
        if not path.startswith(self.head):
            return False
        tail = self.tail
        if not tail:
            return not self.anchored or len(path) == len(self.head)
        # Placing each literal run at its leftmost occurrence is optimal for `*`-only globs,
        # which keeps matching linear (a regex could backtrack badly on hostile patterns).
        pos = len(self.head)
        middle = tail[:-1] if self.anchored else tail
        for run in middle:
            found = path.find(run, pos)
            if found < 0:
                return False
            pos = found + len(run)
        if self.anchored:
            last = tail[-1]
            return len(path) - len(last) >= pos and path.endswith(last)
        return True


class _Group:
    __slots__ = ("agents", "delays", "rules")

    def __init__(self) -> None:
        self.agents: list[str] = []  # lowercase tokens; "*" for the global group
        self.rules: list[Rule] = []
        self.delays: list[float] = []


def _key_value(line: str) -> tuple[str, str] | None:
    line = line.split("#", 1)[0].strip()
    key, sep, value = line.partition(":")
    if not sep:
        # A forgotten colon is common; accept "key value" when that is all the line holds.
        parts = line.split()
        if len(parts) != 2:
            return None
        key, value = parts
    return key.strip().lower(), value.strip()


def _parse(text: str) -> list[_Group]:
    groups: list[_Group] = []
    group: _Group | None = None
    in_rules = False  # a group member line was seen since the last user-agent line
    for line in _LINE_BREAK.split(text):
        kv = _key_value(line)
        if kv is None:
            continue
        key, value = kv
        if key == "user-agent":
            if group is None or in_rules:
                group = _Group()
                groups.append(group)
                in_rules = False
            token = value.split(None, 1)[0] if value else ""
            if token == "*":
                group.agents.append("*")
            else:
                prefix = _TOKEN_PREFIX.match(value)
                group.agents.append(prefix.group().lower() if prefix else "")
        elif key in ("allow", "disallow", "crawl-delay"):
            if group is None:
                continue  # rules before any user-agent line belong to no group
            in_rules = True  # even an empty value closes the user-agent run
            if key == "crawl-delay":
                try:
                    delay = float(value)
                except ValueError:
                    continue
                if math.isfinite(delay) and delay >= 0:
                    group.delays.append(delay)
            elif value:
                group.rules.append(Rule(normalise_pattern(value), key == "allow"))
    return groups


class RobotsPolicy:
    """The parsed robots.txt of one origin (scheme, host, port), or its fetch outcome."""

    __slots__ = (
        "_by_agent",
        "_global",
        "_selected",
        "allows_all",
        "body",
        "disallows_all",
        "status",
    )

    def __init__(self, status: int, body: bytes = b"") -> None:
        self.status = status
        parsed = 200 <= status < 300
        # RFC 9309 2.3.1: 4xx is "unavailable" (no restriction; 3xx only arrives here after too
        # many redirects, which counts as unavailable too); 5xx and network errors are
        # "unreachable" (complete disallow). 429 asks us to slow down, so like Google we treat
        # it as unreachable.
        self.allows_all = 300 <= status < 500 and status != 429
        self.disallows_all = not (parsed or self.allows_all)
        self.body = body if parsed else b""
        # agent token -> (rules, crawl delays) merged over its groups; "*" is the global group
        self._by_agent: dict[str, tuple[list[Rule], list[float]]] = {}
        self._selected: dict[str, tuple[tuple[Rule, ...], float | None]] = {}
        if parsed:
            text = self.body.decode("utf-8", "replace").removeprefix("\ufeff")
            for group in _parse(text):
                for agent in filter(None, group.agents):
                    rules, delays = self._by_agent.setdefault(agent, ([], []))
                    rules.extend(group.rules)
                    delays.extend(group.delays)
        self._global = self._by_agent.get("*")

    @classmethod
    def from_fetch(
        cls, status: int, body: bytes, max_bytes: int = MAX_ROBOTS_BYTES
    ) -> RobotsPolicy:
        """The policy for a robots.txt fetch that ended with `status` (0: network error), from
        the lines within the first `max_bytes` bytes of `body`."""
        return cls(status, cut_at_line(body, max_bytes))

    def _select(self, agent: str) -> tuple[tuple[Rule, ...], float | None]:
        chosen = self._selected.get(agent)
        if chosen is None:
            rules, delays = self._by_agent.get(agent.lower()) or self._global or ([], [])
            ordered = tuple(sorted(rules, key=Rule.priority))
            # Several groups can name us; the most cautious delay wins.
            chosen = (ordered, max(delays) if delays else None)
            self._selected[agent] = chosen
        return chosen

    def allowed(self, url: str, agent: str = "linkgraph") -> bool:
        """Whether `agent` (a product token, e.g. "linkgraph") may fetch `url`."""
        if self.disallows_all:
            return False
        rules = self._select(agent)[0]
        if not rules:
            return True
        path = url_path_for_robots(url)
        if "%" in path:
            path = _ESCAPE.sub(_upper, path)
        if path == "/robots.txt":
            return True
        for rule in rules:  # ordered by priority: the first match is the longest one
            if rule.matches(path):
                return rule.allow
        return True

    def crawl_delay(self, agent: str = "linkgraph") -> float | None:
        """Crawl-delay (seconds) of the group that applies to `agent`, None when unset."""
        return self._select(agent)[1]

    def to_bytes(self) -> bytes:
        """Status and (cut) body: enough to rebuild the policy in another process."""
        return _MAGIC + b"%d\n" % self.status + self.body

    @classmethod
    def from_bytes(cls, data: bytes) -> RobotsPolicy:
        header, sep, body = data.partition(b"\n")
        if not sep or not header.startswith(_MAGIC):
            raise ValueError("not a serialised RobotsPolicy")
        return cls(int(header[len(_MAGIC) :]), body)
