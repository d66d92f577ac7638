"""Which discovered links are followed: the crawl's scope, and filters for crawler traps.

Every link is recorded whatever the scope; the scope only decides what is queued. Domains are
registered domains or host names: a rule for `example.com` covers `www.example.com` too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from crawler.urls import host_of, registered_domain

SCOPES = ("all", "same-domain", "seed-domains")
# Session ids in paths (;jsessionid=...) or queries make endless copies of one site.
SESSION_ID = re.compile(
    r"[;?&](?:jsessionid|phpsessid|aspsessionid[a-z]*|sessionid|session_id|sid|cfid|cftoken)=",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Scope:
    mode: str = "all"
    allow: frozenset[str] = frozenset()  # only these domains (empty: any)
    deny: frozenset[str] = frozenset()
    seed_domains: frozenset[str] = frozenset()
    max_url_length: int = 2048
    max_segment_repeats: int = 3  # /a/b/a/b/a/b/a/b: a segment seen more often is a trap

    def follows(self, url: str, src_domain: str) -> bool:
        return not self.why_not(url, src_domain)

    def why_not(self, url: str, src_domain: str) -> str:
        """ "" when the link is followed, else the reason it is not."""
        host = host_of(url)
        domain = registered_domain(host)
        if self.deny and _matches(host, domain, self.deny):
            return "denied domain"
        if self.allow and not _matches(host, domain, self.allow):
            return "domain not allowed"
        if self.mode == "same-domain" and domain != src_domain:
            return "other domain"
        if self.mode == "seed-domains" and domain not in self.seed_domains:
            return "not a seed domain"
        if len(url) > self.max_url_length:
            return "URL too long"
        if SESSION_ID.search(url):
            return "session id"
        if self.max_segment_repeats and _repeats(url) > self.max_segment_repeats:
            return "repeated path segments"
        return ""


def _matches(host: str, domain: str, names: frozenset[str]) -> bool:
    if domain in names or host in names:
        return True
    return any(host.endswith("." + name) for name in names)


def _repeats(url: str) -> int:
    segments = [s for s in urlsplit(url).path.split("/") if s]
    return max((segments.count(s) for s in set(segments)), default=0)


def read_domains(values: list[str], files: list[str]) -> frozenset[str]:
    """Domains from repeated flags and from files (one per line, # comments), lowercased."""
    from pathlib import Path

    from crawler.errors import UsageError

    names = list(values)
    for path in files:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read domains file {path}: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise UsageError(f"domains file {path} is not UTF-8 text") from None
        names += [line.split("#", 1)[0] for line in text.splitlines()]
    cleaned = {n.strip().lower().rstrip(".") for n in names}
    return frozenset(n.encode("idna").decode() if not n.isascii() else n for n in cleaned if n)
