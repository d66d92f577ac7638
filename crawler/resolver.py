"""DNS for the crawl: names from a hosts file first, then the system resolver, and a refusal of
every non-public address unless the operator allows private ones.

The check runs on the resolved address, so a public name that resolves to 10.0.0.1 (DNS
rebinding) or a redirect to http://127.0.0.1/ is refused like the literal address would be.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingThreadedResolver
from twisted.internet import defer
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from crawler.errors import UsageError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler
    from twisted.internet.defer import Deferred


class RefusedAddress(DNSLookupError):
    """The host resolves to an address linkgraph does not fetch without --allow-private."""


def read_hosts_file(path: str | Path) -> dict[str, str]:
    """name -> address from an /etc/hosts-format file (first address of a name wins)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read hosts file {path}: {exc.strerror}") from None
    mapping: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        try:
            ipaddress.ip_address(fields[0])
        except ValueError:
            raise UsageError(f"{path}:{number}: {fields[0]!r} is not an IP address") from None
        if len(fields) < 2:
            raise UsageError(f"{path}:{number}: an address without a host name")
        for name in fields[1:]:
            mapping.setdefault(name.lower().rstrip("."), fields[0])
    return mapping


def refusal_key(host: str) -> str:
    """The same key for a URL's host (`[::1]`, `A.com.`) and the name Twisted resolves."""
    return host.lower().rstrip(".").strip("[]")


def _ip_literal(name: str) -> str | None:
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@implementer(IResolverSimple)
class GuardedResolver(CachingThreadedResolver):
    # Twisted reports every failed resolution as "no results", so the names refused here are
    # remembered (name -> address) for the spider to record the real reason.
    refused: dict[str, str] = {}

    def __init__(
        self,
        reactor: Any,
        cache_size: int,
        timeout: float,
        hosts: dict[str, str],
        allow_private: bool,
    ) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.hosts = hosts
        self.allow_private = allow_private

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: Any) -> GuardedResolver:
        s = crawler.settings
        hosts_file = s.get("LINKGRAPH_HOSTS_FILE")
        hosts = read_hosts_file(hosts_file) if hosts_file else {}
        hosts.update(s.getdict("LINKGRAPH_HOSTS"))
        return cls(
            reactor,
            s.getint("DNSCACHE_SIZE") if s.getbool("DNSCACHE_ENABLED") else 0,
            s.getfloat("DNS_TIMEOUT"),
            hosts,
            s.getbool("LINKGRAPH_ALLOW_PRIVATE"),
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        literal = _ip_literal(name)
        mapped = literal or self.hosts.get(name.lower().rstrip("."))
        d = defer.succeed(mapped) if mapped else super().getHostByName(name, timeout)
        return d.addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        if not self.allow_private and not is_public(address):
            self.refused[refusal_key(name)] = address
            raise RefusedAddress(
                f"{name} resolves to non-public address {address} (use --allow-private)"
            )
        return address
