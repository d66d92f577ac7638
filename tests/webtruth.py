"""The crawl ground truth of a declared web (tests/webmodel.py), computed from declarations only.

A breadth-first crawl over the declared links, honouring the declared robots rules,
redirects and page-level nofollow, gives the pages a crawler fetches; the views follow from
the links found on them. Nothing here parses HTML or URLs the way the crawler does.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from crawler.demo.web import StaticWeb, TemplateResource
from crawler.settings import (
    LINKGRAPH_FOLLOW_LINK_TYPES,
    LINKGRAPH_MAX_SITEMAPS_PER_HOST,
    LINKGRAPH_RETRY_TIMES,
)
from tests.webmodel import Host, Link, is_local, split_url

FOLLOWED_TYPES = frozenset(LINKGRAPH_FOLLOW_LINK_TYPES)  # the others are recorded only


@dataclass
class Outcome:
    """What crawling one URL is expected to record."""

    status: int  # 0: nothing fetched
    # "robots" when a robots.txt rule refused the URL; "robots: HTTP 5xx" when robots.txt
    # answered with a server error, which disallows the whole host (RFC 9309 section 2.3.1.4)
    error: str = ""
    links: list[tuple[Link, str]] = field(default_factory=list)  # (link, tag)
    nofollow: bool = False  # page-level nofollow: links recorded, none followed
    noindex: bool = False  # its links are recorded but are not live links (history views)

    @property
    def fetches(self) -> int:
        """Requests for the URL: a 5xx or a 429 is fetched again, LINKGRAPH_RETRY_TIMES times."""
        if not self.status:
            return 0
        return 1 + LINKGRAPH_RETRY_TIMES if self.status >= 500 or self.status == 429 else 1


def fetch(
    hosts: dict[str, Host],
    url: str,
    unreachable: frozenset[str] = frozenset(),
    *,
    sitemap: bool = False,
) -> Outcome:
    """What fetching one URL template records. `unreachable` hosts refuse connections, so
    their robots.txt cannot be fetched and nothing on them is (RFC 9309 section 2.3.1.4).
    A `sitemap` (a URL registered as one) records the URLs it lists as its links."""
    _, host_name, path = split_url(url)
    host = hosts[host_name]
    page = next((p for p in host.pages if p.path == path), None)
    if host_name in unreachable:
        return Outcome(0, "robots: connection refused")
    if not host.robots.allows(path):
        unavailable = host.robots.body is not None and host.robots.status >= 500
        return Outcome(0, f"robots: HTTP {host.robots.status}" if unavailable else "robots")
    if page is None:
        return Outcome(404)
    if page.target is not None:
        return Outcome(page.status, links=[(Link(page.target, type="redirect"), "redirect")])
    if sitemap and page.sitemap is not None:
        listed = [(Link(u, type="sitemap"), page.sitemap_tag) for u in page.sitemap]
        return Outcome(page.status, links=listed)
    if page.status == 200 and page.content_type == "text/html" and page.body is None:
        found = [(link, link.tag) for link in page.links if link.url is not None]
        return Outcome(200, links=found, nofollow=page.page_nofollow, noindex=page.noindex)
    return Outcome(page.status)  # errors and non-HTML: fetched, but without links


def crawl(hosts: dict[str, Host], seeds: list[str]) -> dict[str, Outcome]:
    """Breadth-first crawl of the declared graph: URL template -> expected outcome.

    A host's robots.txt, read before its first URL, registers the sitemaps its `Sitemap:` lines
    name (LINKGRAPH_SITEMAPS = "robots"); a sitemap's URLs are queued, an index's sitemaps
    registered, each host registering LINKGRAPH_MAX_SITEMAPS_PER_HOST at most."""
    outcomes: dict[str, Outcome] = {}
    queue = deque(seeds)
    seen = set(seeds)
    robots_read: set[str] = set()
    sitemaps: set[str] = set()
    per_host: Counter[str] = Counter()

    def enqueue(url: str, source: str) -> None:
        if url not in seen:
            assert is_local(url), f"{source} would send the crawler to {url}"
            seen.add(url)
            queue.append(url)

    def register(url: str, source: str) -> None:
        host = split_url(url)[1]
        if url not in sitemaps and per_host[host] < LINKGRAPH_MAX_SITEMAPS_PER_HOST:
            sitemaps.add(url)
            per_host[host] += 1
            enqueue(url, source)

    while queue:
        current = queue.popleft()
        host = hosts[split_url(current)[1]]
        if host.name not in robots_read:
            robots_read.add(host.name)
            if host.robots.body is not None and host.robots.status == 200:
                for url in host.robots.sitemaps:
                    register(url, f"{host.name}/robots.txt")
        outcome = fetch(hosts, current, sitemap=current in sitemaps)
        outcomes[current] = outcome
        if outcome.nofollow:
            continue
        for link, tag in outcome.links:
            assert link.url is not None
            if link.type == "sitemap":
                (register if tag == "index" else enqueue)(link.url, current)
            elif link.type in FOLLOWED_TYPES:
                enqueue(link.url, current)
    return outcomes


@dataclass(frozen=True)
class Backlink:
    follow: bool
    anchor: str  # smallest non-empty anchor, "" when all are empty
    anchors: tuple[str, ...]  # sorted distinct non-empty anchors
    types: tuple[str, ...] = ()  # sorted distinct link types


def backlinks(
    outcomes: dict[str, Outcome], hosts: dict[str, Host]
) -> dict[tuple[str, str], Backlink]:
    """(src, dst) -> row, for links between different registered domains on fetched pages."""
    follow: dict[tuple[str, str], bool] = {}
    anchors: dict[tuple[str, str], set[str]] = {}
    types: dict[tuple[str, str], set[str]] = {}
    for src, outcome in outcomes.items():
        src_domain = hosts[split_url(src)[1]].domain
        for link, _ in outcome.links:
            assert link.url is not None
            if hosts[split_url(link.url)[1]].domain == src_domain or link.type == "sitemap":
                continue  # a URL a sitemap lists is not linked by it
            key = (src, link.url)
            followed = not link.qualified and not outcome.nofollow
            follow[key] = follow.get(key, False) or followed
            anchors.setdefault(key, set())
            types.setdefault(key, set()).add(link.type)
            if link.anchor:
                anchors[key].add(link.anchor)
    rows = {}
    for key, followed in follow.items():
        names = tuple(sorted(anchors[key]))
        rows[key] = Backlink(followed, names[0] if names else "", names, tuple(sorted(types[key])))
    return rows


def _at(template: str, port: int) -> str:
    return template.replace("{port}", str(port))


class DeclaredWeb(StaticWeb):
    """Serves declared hosts and answers what crawling them from `seeds` must record."""

    def __init__(self, hosts: Iterable[Host], seeds: Sequence[str]) -> None:
        self.declared = {h.name: h for h in hosts}
        resources: dict[tuple[str, str], TemplateResource] = {}
        for host in self.declared.values():
            for path, resource in host.robots.resources():
                resources[(host.name, path)] = resource
            for page in host.pages:
                assert (host.name, page.path) not in resources, (host.name, page.path)
                resources[(host.name, page.path)] = page.resource()
        super().__init__(resources, extra_hosts=self.declared)
        self._seeds = list(seeds)
        self.outcomes = crawl(self.declared, self._seeds)
        self.rows = backlinks(self.outcomes, self.declared)

    def seeds(self, port: int) -> list[str]:
        return [_at(u, port) for u in self._seeds]

    def domains(self) -> dict[str, str]:
        """host -> registered domain, as declared."""
        return {name: host.domain for name, host in self.declared.items()}

    # -- pages ----------------------------------------------------------------------------
    def expected_pages(self, port: int) -> dict[str, int]:
        """Every URL the crawl records -> HTTP status (0: not fetched, see expected_errors)."""
        return {_at(u, port): o.status for u, o in self.outcomes.items()}

    def expected_errors(self, port: int) -> dict[str, str]:
        return {_at(u, port): o.error for u, o in self.outcomes.items() if o.error}

    def expected_nofollow_pages(self, port: int) -> set[str]:
        return {_at(u, port) for u, o in self.outcomes.items() if o.nofollow}

    def expected_links(self, port: int) -> list[tuple[str, str, str, frozenset[str], str]]:
        """Every link occurrence on fetched pages: (src, dst, anchor, rel tokens, tag)."""
        return [
            (_at(src, port), _at(link.url or "", port), link.anchor, link.rels, tag)
            for src, o in self.outcomes.items()
            for link, tag in o.links
        ]

    def expected_typed_links(
        self, port: int
    ) -> list[tuple[str, str, str, frozenset[str], str, str]]:
        """Every link occurrence on fetched pages: (src, dst, anchor, rel tokens, tag, type)."""
        return [
            (_at(src, port), _at(link.url or "", port), link.anchor, link.rels, tag, link.type)
            for src, o in self.outcomes.items()
            for link, tag in o.links
        ]

    # -- requests the server sees ---------------------------------------------------------
    def expected_requests(self) -> set[tuple[str, str]]:
        """(host, path) of every page fetch; robots.txt fetches are in robots_paths()."""
        return {split_url(u)[1:] for u, o in self.outcomes.items() if o.status}

    def expected_fetches(self) -> Counter[tuple[str, str]]:
        """(host, path) -> how many times the server sees it: retries of 5xx answers too."""
        return Counter({split_url(u)[1:]: o.fetches for u, o in self.outcomes.items() if o.status})

    def robots_paths(self) -> set[tuple[str, str]]:
        """robots.txt and the targets of its redirects, on every host a page is fetched from."""
        fetched_hosts = {host for host, _ in self.expected_requests()}
        refused_hosts = {split_url(u)[1] for u, o in self.outcomes.items() if o.error}
        paths = set()
        for name in fetched_hosts | refused_hosts:
            robots = self.declared[name].robots
            paths.add((name, "/robots.txt"))
            paths.update((name, hop[0]) for hop in robots.hops)
            if robots.body is not None:
                paths.add((name, robots.path))
        return paths

    def disallowed_paths(self) -> set[tuple[str, str]]:
        """(host, path) never to be requested: robots-refused URLs and every declared page
        the crawl cannot reach (links in comments, on error or nofollow pages...)."""
        refused = {
            split_url(u)[1:] for u, o in self.outcomes.items() if o.error.startswith("robots")
        }
        declared = {(h.name, p.path) for h in self.declared.values() for p in h.pages}
        return refused | (declared - self.expected_requests())

    def crawl_delays(self) -> dict[str, float]:
        return {
            name: host.robots.crawl_delay
            for name, host in self.declared.items()
            if host.robots.crawl_delay is not None
        }

    # -- the views ------------------------------------------------------------------------
    def expected_backlink_rows(self, port: int) -> dict[tuple[str, str], Backlink]:
        return {(_at(s, port), _at(d, port)): row for (s, d), row in self.rows.items()}

    def expected_backlinks(self, port: int) -> set[tuple[str, str, bool, str]]:
        """(src_url, dst_url, follow, anchor) per backlinks row."""
        return {
            (s, d, r.follow, r.anchor) for (s, d), r in self.expected_backlink_rows(port).items()
        }

    def _domain(self, template: str) -> str:
        return self.declared[split_url(template)[1]].domain

    def expected_domain_inbound(self) -> dict[str, tuple[int, int, int, int]]:
        """dst_domain -> (referring_domains, backlinks, follow_backlinks, nofollow_backlinks)."""
        referring: dict[str, set[str]] = {}
        counts: dict[str, list[int]] = {}
        for (src, dst), row in self.rows.items():
            domain = self._domain(dst)
            referring.setdefault(domain, set()).add(self._domain(src))
            c = counts.setdefault(domain, [0, 0])
            c[0] += 1
            c[1] += row.follow
        return {d: (len(referring[d]), n, f, n - f) for d, (n, f) in counts.items()}

    def expected_anchors(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(dst_domain, anchor) -> (backlinks, referring_domains); empty anchors excluded."""
        rows: dict[tuple[str, str], int] = {}
        referring: dict[tuple[str, str], set[str]] = {}
        for (src, dst), row in self.rows.items():
            for anchor in row.anchors:
                key = (self._domain(dst), anchor)
                rows[key] = rows.get(key, 0) + 1
                referring.setdefault(key, set()).add(self._domain(src))
        return {k: (n, len(referring[k])) for k, n in rows.items()}
