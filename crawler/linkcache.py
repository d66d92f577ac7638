"""Bounded memos for the per-link work of every page: resolving its hrefs, and the host and
registered domain of each link's target.

Links repeat heavily (every page of a site links to its home page, its sections, its legal
pages), so a worker resolves the same few thousand hrefs over and over. `Resolutions` answers a
repeated one with a dict lookup instead of an Ada parse. It is exact because an answer is kept
under everything it depends on, as the URL Standard's parser reads an href against an http(s)
base (the memo is not used with any other base):

- `http://...`, `https://...`, `javascript:`, `mailto:` and `tel:` hrefs: nothing but the href
  (crawler/urls.py parses an http(s) one without the base; the others are never http(s) links);
- hrefs starting with `/` or `\\` (a backslash is a slash to the parser in an http(s) URL): the
  href and the base's scheme, userinfo, host and port, which are the base's serialisation up to
  its path. A path-absolute href takes those from the base and nothing else; a scheme-relative
  one (`//host`, `/\\host`, or `/<tab>/host` once the parser has dropped the tab) only the scheme;
- other hrefs without a colon (so without a scheme), starting with neither `?`, `#`, nor a space
  or control character the parser would strip (`page`, `../page`, `./page?x`): the href and the
  base up to the last `/` of its path, as the parser copies the base but for the path's last
  segment, its query and its fragment.

Everything else (`?query`, `#fragment`, other schemes, odd leading characters) is resolved
every time. An href is looked up as the resolver is handed it, after the page's encoding was
applied to its query (crawler/extraction.py), so two pages in different encodings never share
an answer they should not.

A page's resolver looks an href up first in its directory's answers, which also keep the
absolute and root-relative answers given to pages there: the directory fixes the origin, so
that finer scope is still exact, and most links cost one lookup.

The memos are bounded, and emptied when full: a worker's memory stays bounded, and the links a
site repeats are back after a page or two. Threads may share them (pages are parsed on a pool
too): a dict's get and set are atomic, and every entry stored is a right answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crawler.urls import base_scopes, host_of, registered_domain, resolver

RESOLUTIONS_SIZE = 1 << 17  # hrefs and scopes held: about 25 MB when full
DESTINATIONS_SIZE = 1 << 14  # hosts

# Hrefs whose answer does not depend on the base: absolute http(s) URLs, and the links to other
# schemes that pages are full of (never a link to record).
_BASE_FREE = ("http://", "https://", "javascript:", "mailto:", "tel:")
_NOT_PATH_START = frozenset({"?", "#"})
_MISSING = object()

# An href the parser would leave as it is (but for its fragment), recognised without parsing it:
# lowercase ASCII host names whose last label starts with a letter (so no IPv4 address) and none
# is Punycode, a port that is not the default one, path segments neither starting with "." (no
# dot segments) nor holding a character the parser would percent-encode, turn into "/" or read
# as "%2e", and a query of characters it leaves alone. Anything else is parsed.
_SEGMENT = r"[A-Za-z0-9\-_~!$&()*+,;=:@][A-Za-z0-9\-._~!$&()*+,;=:@]*"
_PATH_AND_QUERY = rf"/(?:{_SEGMENT}(?:/(?:{_SEGMENT})?)*)?(?:\?[A-Za-z0-9\-._~!$&()*+,;=:@/?%]*)?"
_PLAIN_URL = re.compile(
    rf"(https?)://((?:[a-z0-9-]+\.)*[a-z][a-z0-9-]*)(?::([1-9][0-9]{{0,4}}))?({_PATH_AND_QUERY})"
    r"(?:#.*)?",
    re.DOTALL,
)
_PLAIN_PATH = re.compile(rf"({_PATH_AND_QUERY})(?:#.*)?", re.DOTALL)
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def plain_url(href: str) -> str | None:
    """`href` without its fragment if it is an http(s) URL the parser would not change, else
    None (then it may still be one: parse it)."""
    found = _PLAIN_URL.fullmatch(href)
    if found is None:
        return None
    scheme, host, port = found.group(1, 2, 3)
    if "xn--" in host or (port and (int(port) > 65535 or port == _DEFAULT_PORTS[scheme])):
        return None
    return href[: found.end(4)]


def plain_path(href: str) -> str | None:
    """The path and query of a root-relative `href` the parser would not change, else None."""
    found = _PLAIN_PATH.fullmatch(href)
    return None if found is None else found.group(1)


class Resolutions:
    """Memoised `crawler.urls.resolver`: the same answers, most of them from a dict.

    One dict of answers per scope ("" for absolute hrefs), keyed by the href: strings only,
    which the garbage collector does not track. `size` bounds the hrefs and scopes held."""

    def __init__(self, size: int = RESOLUTIONS_SIZE) -> None:
        self.size = size
        self.scopes: dict[str, dict[str, str | None]] = {}
        self.entries = 0

    def clear(self) -> None:
        for answers in list(self.scopes.values()):  # a page being read may hold one
            answers.clear()
        self.scopes.clear()
        self.entries = 0

    def _answers(self, scope: str) -> dict[str, str | None]:
        answers = self.scopes.get(scope)
        if answers is None:
            self._count()
            answers = self.scopes[scope] = {}
        return answers

    def _count(self) -> None:
        self.entries += 1
        if self.entries > self.size:
            self.clear()

    def resolver(self, base: str) -> Callable[[str], str | None]:
        """Resolves hrefs against `base`, as `crawler.urls.resolver(base)` does."""
        join = resolver(base)
        found = base_scopes(base)
        if found is None:
            return join
        origin, directory = found
        absolute = self._answers("")
        rooted = self._answers(origin)
        relative = self._answers(directory)
        # A path on this origin is origin + path, unless the origin holds what a link drops
        # (userinfo) or what makes it no link (a host that is not Punycode).
        plain_origin = "@" not in origin and "xn--" not in origin
        count = self._count
        known = relative.get

        def resolve(href: str) -> str | None:
            # The directory's answers first: every kind of href answered for a page there.
            url = known(href, _MISSING)
            if url is not _MISSING:
                return url  # type: ignore[return-value]  # only str | None are stored
            first = href[:1]
            if first == "/" or first == "\\":
                answers = rooted
            elif href.startswith(_BASE_FREE):
                answers = absolute
            elif first > " " and first not in _NOT_PATH_START and ":" not in href:
                answers = relative
            else:
                return join(href)
            url = answers.get(href, _MISSING)
            if url is _MISSING:
                if answers is absolute:
                    url = plain_url(href) or join(href)
                elif answers is rooted and plain_origin and (path := plain_path(href)):
                    url = origin + path
                else:
                    url = join(href)
                if url == href:
                    url = href  # already canonical: one string for the key and the answer
                answers[href] = url
                count()
            if answers is not relative:
                relative[href] = url  # type: ignore[assignment]  # str | None, as above
                count()
            return url  # type: ignore[return-value]

        return resolve


class Destinations:
    """The (host, registered domain) of link targets, canonical URLs as `resolve` returns them,
    by their scheme and authority: `key` of a URL is that part of it."""

    def __init__(self, size: int = DESTINATIONS_SIZE) -> None:
        self.size = size
        self.known: dict[str, tuple[str, str]] = {}
        self.get = self.known.get  # the hot path's lookup, `of` only on a miss

    @staticmethod
    def key(url: str) -> str:
        """`url` up to the "/" that starts its path: host_of reads nothing after it."""
        # The first "/" from index 8 on: "https://" is 8 long, and "http://" 7, where a "/"
        # would leave host_of an empty host whether or not the key stops after it.
        end = url.find("/", 8)
        return url[:end] if end > 0 else url

    def of(self, key: str) -> tuple[str, str]:
        host = host_of(key)
        found = (host, registered_domain(host))
        if len(self.known) >= self.size:
            self.known.clear()
        self.known[key] = found
        return found


# One of each per process: every page a worker reads shares them.
RESOLUTIONS = Resolutions()
DESTINATIONS = Destinations()
