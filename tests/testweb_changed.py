"""The test web as it is at a second crawl: the same hosts with links added and removed, pages
gone (404, 410), a page now redirecting, one now noindex, and a host that refuses connections.

`expected_changes` is the ground truth of re-crawling every page the first crawl recorded:
for each page, the live links of its first fetch against those of its second, from the
declarations of both webs (a noindex page has no live links; a redirect's one is its target).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tests.testweb import HOSTS, SEEDS, TestWeb, U
from tests.webmodel import Host, Link, Page
from tests.webtruth import Outcome, fetch

L = Link
# Listed in the hosts file on an address nothing listens on: connections are refused.
UNREACHABLE = frozenset({"www.example.co.jp"})


def _edit(host: Host, path: str, page: Page | None) -> Host:
    pages = [p for p in host.pages if p.path != path]
    return replace(host, pages=tuple(pages + ([page] if page else [])))


def _changed_hosts() -> tuple[Host, ...]:
    hosts = {h.name: h for h in HOSTS}

    def page(host: str, path: str) -> Page:
        return next(p for p in hosts[host].pages if p.path == path)

    carol = page("carol.github.io", "/")
    edits = {
        # links added
        ("carol.github.io", "/"): replace(
            carol,
            links=(
                *carol.links,
                L(U("deals.example.biz"), "New deal"),
                L(U("www.example.com"), "Ex"),
            ),
        ),
        # a link removed
        ("alice.github.io", "/"): replace(
            page("alice.github.io", "/"),
            links=tuple(
                lk for lk in page("alice.github.io", "/").links if lk.url != U("www.example.com")
            ),
        ),
        # gone: no page at all (404), and 410 Gone
        ("bob.github.io", "/projects"): None,
        ("dave.blogspot.com", "/"): Page("/", "Gone", status=410),
        # now redirecting, within its domain
        ("lib.example.edu", "/"): Page(
            "/", status=301, location=U("cs.example.edu"), target=U("cs.example.edu")
        ),
        # now noindex: its links are still there, but no longer count
        ("news.example.com", "/2024/links-study"): replace(
            page("news.example.com", "/2024/links-study"), meta_robots=("robots", "noindex")
        ),
    }
    for (host, path), new in edits.items():
        hosts[host] = _edit(hosts[host], path, new)
    return tuple(hosts.values())


@dataclass(frozen=True)
class Change:
    src: str
    dst: str
    reason: str  # "" for a new link
    detail: str


def _live(outcome: Outcome) -> set[str]:
    if outcome.noindex:
        return set()
    return {link.url or "" for link, _ in outcome.links}


def _why(outcome: Outcome) -> tuple[str, str]:
    """The declared reason a page's links are gone, and its detail."""
    if outcome.status == 404:
        return "page_404", "HTTP 404"
    if outcome.status == 410:
        return "page_410", "HTTP 410"
    if 300 <= outcome.status < 400:
        return "page_redirects", outcome.links[0][0].url or ""
    if outcome.status == 0:
        return "fetch_failed", outcome.error
    if outcome.status >= 400:
        return "fetch_failed", f"HTTP {outcome.status}"
    if outcome.noindex:
        return "page_noindex", ""
    return "link_removed", ""


class ChangedWeb(TestWeb):
    __test__ = False

    def expected_changes(
        self, before: TestWeb, port: int, unreachable: frozenset[str] = UNREACHABLE
    ) -> tuple[set[Change], set[Change]]:
        """(new, lost) links of re-crawling every URL the crawl of `before` recorded, with the
        `unreachable` hosts refusing connections."""
        new, lost = set(), set()
        for url, first in before.outcomes.items():
            # a sitemap is read as one again (its URLs are its links)
            sitemap = any(link.type == "sitemap" for link, _ in first.links)
            second = fetch(self.declared, url, unreachable, sitemap=sitemap)
            old_links, new_links = _live(first), _live(second)
            reason, detail = _why(second)
            for dst in new_links - old_links:
                new.add(Change(url, dst, "", ""))
            for dst in old_links - new_links:
                lost.add(Change(url, dst, reason, detail))
        at = lambda t: t.replace("{port}", str(port))  # noqa: E731
        return (
            {Change(at(c.src), at(c.dst), c.reason, at(c.detail)) for c in new},
            {Change(at(c.src), at(c.dst), c.reason, at(c.detail)) for c in lost},
        )


def build_changed_web() -> ChangedWeb:
    return ChangedWeb(_changed_hosts(), SEEDS)
