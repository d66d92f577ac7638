"""Ground truth of the link-index views (profiles, top pages, outlinks, broken backlinks, TLDs,
intersect), derived from the declared test web only: its expected crawl outcomes, the declared
rel of every link, and the facts about each registered domain declared below."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from tests.webmodel import split_url
from tests.webtruth import DeclaredWeb

# registered domain -> (public suffix, TLD), as a person reads them off the public suffix list
SUFFIXES = {
    "example.com": ("com", "com"),
    "example.co.uk": ("co.uk", "uk"),
    "example.org": ("org", "org"),
    "example.net": ("net", "net"),
    "example.info": ("info", "info"),
    "example.biz": ("biz", "biz"),
    "northwind.co.uk": ("co.uk", "uk"),
    "xn--bcher-kva.de": ("de", "de"),
    "alice.github.io": ("github.io", "io"),
    "bob.github.io": ("github.io", "io"),
    "carol.github.io": ("github.io", "io"),
    "dave.blogspot.com": ("blogspot.com", "com"),
    "example.edu": ("edu", "edu"),
    "example.ac.uk": ("ac.uk", "uk"),
    "example.gov.uk": ("gov.uk", "uk"),
    "example.com.au": ("com.au", "au"),
    "example.co.jp": ("co.jp", "jp"),
}
COUNTRIES = {
    "uk": ("GB", "United Kingdom"),
    "io": ("IO", "British Indian Ocean Territory"),
    "de": ("DE", "Germany"),
    "au": ("AU", "Australia"),
    "jp": ("JP", "Japan"),
}
INSTITUTIONAL = {"example.edu", "example.ac.uk", "example.gov.uk"}


@dataclass(frozen=True)
class Pair:
    """One expected `backlinks` row with everything the views aggregate."""

    src: str
    dst: str
    src_domain: str
    dst_domain: str
    src_host: str
    dst_host: str
    follow: bool
    nofollow: bool
    ugc: bool
    sponsored: bool
    anchors: tuple[str, ...]
    types: tuple[str, ...] = ()  # the link types of the pair's links, sorted


class IndexTruth:
    def __init__(self, web: DeclaredWeb, port: int) -> None:
        self.web = web
        self.port = port
        rels: dict[tuple[str, str], set[str]] = defaultdict(set)
        for src, outcome in web.outcomes.items():
            for link, _ in outcome.links:
                rels[(src, link.url or "")] |= link.rels
        self.pairs: list[Pair] = []
        for (src, dst), row in web.rows.items():
            tokens = rels[(src, dst)]
            self.pairs.append(
                Pair(
                    self.at(src), self.at(dst), web._domain(src), web._domain(dst),
                    split_url(src)[1], split_url(dst)[1], row.follow, "nofollow" in tokens,
                    "ugc" in tokens, "sponsored" in tokens, row.anchors, row.types,
                )
            )  # fmt: skip
        self.status = {self.at(u): o.status for u, o in web.outcomes.items()}

    def at(self, template: str) -> str:
        return template.replace("{port}", str(self.port))

    def of(self, dst_domain: str) -> list[Pair]:
        return [p for p in self.pairs if p.dst_domain == dst_domain]

    def referring_domains(self) -> dict[tuple[str, str], tuple[object, ...]]:
        """(dst, src domain) -> (backlinks, follow, nofollow, ugc, sponsored, referring pages,
        linked pages, suffix, tld, country code, country, institutional)."""
        groups: dict[tuple[str, str], list[Pair]] = defaultdict(list)
        for p in self.pairs:
            groups[(p.dst_domain, p.src_domain)].append(p)
        out = {}
        for (dst, src), ps in groups.items():
            suffix, tld = SUFFIXES[src]
            code, country = COUNTRIES.get(tld, ("", ""))
            out[(dst, src)] = (
                len(ps), sum(p.follow for p in ps), sum(not p.follow for p in ps),
                sum(p.ugc for p in ps), sum(p.sponsored for p in ps), len({p.src for p in ps}),
                len({p.dst for p in ps}), suffix, tld, code, country, int(src in INSTITUTIONAL),
            )  # fmt: skip
        return out

    def by_tld(self) -> dict[tuple[str, str], tuple[str, str, int, int, int]]:
        """(dst domain, tld) -> (country code, country, referring domains, backlinks,
        institutional referring domains)."""
        out: dict[tuple[str, str], list[object]] = {}
        for (dst, src), row in self.referring_domains().items():
            tld = str(row[8])
            acc = out.setdefault((dst, tld), [row[9], row[10], 0, 0, 0])
            acc[2] = int(str(acc[2])) + 1
            acc[3] = int(str(acc[3])) + int(str(row[0]))
            acc[4] = int(str(acc[4])) + int(src in INSTITUTIONAL)
        return {k: (str(v[0]), str(v[1]), int(str(v[2])), int(str(v[3])), int(str(v[4])))
                for k, v in out.items()}  # fmt: skip

    def profile(self, pairs: list[Pair]) -> dict[str, object]:
        """The profile counts of a set of backlinks (a domain's, a host's or a page's)."""
        domains = {p.src_domain for p in pairs}
        institutional = len(domains & INSTITUTIONAL)
        return {
            "backlinks": len(pairs),
            "follow_backlinks": sum(p.follow for p in pairs),
            "nofollow_backlinks": sum(not p.follow for p in pairs),
            "ugc_backlinks": sum(p.ugc for p in pairs),
            "sponsored_backlinks": sum(p.sponsored for p in pairs),
            "referring_domains": len(domains),
            "follow_referring_domains": len({p.src_domain for p in pairs if p.follow}),
            "referring_hosts": len({p.src_host for p in pairs}),
            "referring_pages": len({p.src for p in pairs}),
            "linked_pages": len({p.dst for p in pairs}),
            "institutional_referring_domains": institutional,
        }

    def top_pages(self) -> dict[str, tuple[int, int, int]]:
        """dst url -> (backlinks, referring domains, follow backlinks)."""
        groups: dict[str, list[Pair]] = defaultdict(list)
        for p in self.pairs:
            groups[p.dst].append(p)
        return {
            url: (len(ps), len({p.src_domain for p in ps}), sum(p.follow for p in ps))
            for url, ps in groups.items()
        }

    def linked_domains(self) -> dict[tuple[str, str], tuple[int, int, int, int]]:
        """(src domain, dst domain) -> (links, follow links, linking pages, linked pages)."""
        groups: dict[tuple[str, str], list[Pair]] = defaultdict(list)
        for p in self.pairs:
            groups[(p.src_domain, p.dst_domain)].append(p)
        return {
            k: (len(ps), sum(p.follow for p in ps), len({p.src for p in ps}),
                len({p.dst for p in ps}))
            for k, ps in groups.items()
        }  # fmt: skip

    def broken(self) -> set[tuple[str, str, int]]:
        """(src, dst, status) of backlinks whose target was fetched with a 4xx/5xx."""
        return {
            (p.src, p.dst, self.status[p.dst])
            for p in self.pairs
            if self.status.get(p.dst, 0) >= 400
        }

    def intersect(self, target: str, competitors: list[str], k: int) -> dict[str, list[str]]:
        """src domain -> the competitors it links to, for link intersect."""
        linked: dict[str, set[str]] = defaultdict(set)
        for p in self.pairs:
            linked[p.src_domain].add(p.dst_domain)
        return {
            src: sorted(dsts & set(competitors))
            for src, dsts in linked.items()
            if src != target and target not in dsts and len(dsts & set(competitors)) >= k
        }
