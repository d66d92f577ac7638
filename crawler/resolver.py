"""DNS for the crawl: names from a hosts file first, then the system resolver, and a refusal of
every non-public address unless the operator allows private ones.

The check runs on the resolved address, so a public name that resolves to 10.0.0.1 (DNS
rebinding) or a redirect to http://127.0.0.1/ is refused like the literal address would be.
An IPv6 address that carries an IPv4 address (IPv4-mapped, IPv4-compatible, SIIT, NAT64,
6to4) is judged by the IPv4 address it leads to: `64:ff9b::10.0.0.1` is refused, while
`64:ff9b::8.8.8.8` is as public as 8.8.8.8. The local-use NAT64 prefix is always refused.

Twisted hands a resolver's failure to nobody (a connection only sees "no results"), so the
address guard middleware asks this resolver before each request is sent, and the refusal
reaches the errback as a RefusedAddress (see crawler.failures).

A failed lookup says whether the name does not exist: getaddrinfo's EAI_NONAME is the DNS's
NXDOMAIN (or no such name in the hosts file), raised as NameNotFound, and the target counts as
gone. Every other failure (EAI_AGAIN for a timeout or SERVFAIL, EAI_NODATA for a name without
an IPv4 address, our own timeout) is a DNSLookupError: the target is unreachable for now.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.resolver import CachingThreadedResolver, dnscache
from twisted.internet import defer, threads
from twisted.internet.error import DNSLookupError
from twisted.internet.interfaces import IResolverSimple
from zope.interface import implementer

from crawler.errors import UsageError
from crawler.failures import NameNotFound, RefusedAddress
from crawler.urls import dns_name

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler
    from twisted.internet.defer import Deferred


# IPv6 ranges whose last 32 bits are an IPv4 address that the packet is delivered to.
_IPV4_IN_LOW_BITS = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "::ffff:0:0/96",  # IPv4-mapped (RFC 4291 2.5.5.2)
        "::ffff:0:0:0/96",  # IPv4-translated, SIIT (RFC 7915)
        "::/96",  # IPv4-compatible, deprecated (RFC 4291 2.5.5.1); also :: and ::1
        "64:ff9b::/96",  # NAT64 well-known prefix (RFC 6052)
    )
)
# Local-use NAT64 (RFC 8215) translates into the operator's own network, and the operator picks
# the prefix length, so where the IPv4 address sits is unknown: never public.
_LOCAL_NAT64 = ipaddress.IPv6Network("64:ff9b:1::/48")


def read_hosts_file(path: str | Path) -> dict[str, str]:
    """name -> address from an /etc/hosts-format file (first address of a name wins)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read hosts file {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"hosts file {path} is not UTF-8 text") from None
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
            mapping.setdefault(dns_name(name), fields[0])
    return mapping


def _ip_literal(name: str) -> str | None:
    try:
        return str(ipaddress.ip_address(name.strip("[]")))
    except ValueError:
        return None


def delivered_to(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a connection to `address` reaches: the embedded IPv4 address of an IPv6
    translation form (6to4 included), the address itself otherwise; None when unknowable."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return ip
    if ip in _LOCAL_NAT64:
        return None
    if any(ip in net for net in _IPV4_IN_LOW_BITS):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour or ip


def is_public(address: str) -> bool:
    """Whether `address` leads to the public internet (global unicast, not reserved)."""
    ip = delivered_to(address)
    if ip is None or not ip.is_global or ip.is_multicast or ip.is_reserved:
        return False
    return not (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)


def lookup_ipv4(name: str) -> str:
    """The IPv4 address of `name` from the system resolver (blocking: run it in a thread)."""
    try:
        return socket.gethostbyname(name)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_NONAME:
            raise NameNotFound(name) from None
        raise DNSLookupError(None, f"{name}: {exc.strerror}") from None
    except (UnicodeError, ValueError) as exc:  # a label too long for IDNA, a NUL
        raise NameNotFound(name) from exc


@implementer(IResolverSimple)
class GuardedResolver(CachingThreadedResolver):
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
        hosts.update({dns_name(k): v for k, v in s.getdict("LINKGRAPH_HOSTS").items()})
        return cls(
            reactor,
            s.getint("DNSCACHE_SIZE") if s.getbool("DNSCACHE_ENABLED") else 0,
            s.getfloat("DNS_TIMEOUT"),
            hosts,
            s.getbool("LINKGRAPH_ALLOW_PRIVATE"),
        )

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        literal = _ip_literal(name)
        mapped = literal or self.hosts.get(dns_name(name))
        d = defer.succeed(mapped) if mapped else self._lookup(name)
        return d.addCallback(self._check, name)

    def _lookup(self, name: str) -> Deferred[str]:
        # Twisted's ThreadedResolver would turn every failure into one DNSLookupError with
        # only a message, so the lookup that tells NXDOMAIN apart is done here.
        if name in dnscache:
            return defer.succeed(dnscache[name])
        reactor: Any = self.reactor
        d: Deferred[str] = threads.deferToThreadPool(
            reactor, reactor.getThreadPool(), lookup_ipv4, name
        )
        d.addTimeout(self.timeout, reactor, onTimeoutCancel=self._timed_out(name))
        if dnscache.limit:
            d.addCallback(self._cache_result, name)
        return d

    @staticmethod
    def _timed_out(name: str) -> Any:
        def fail(result: Any, timeout: float) -> None:
            raise DNSLookupError(None, f"{name}: no answer in {timeout:g}s")

        return fail

    def _check(self, address: str, name: str) -> str:
        if not self.allow_private and not is_public(address):
            raise RefusedAddress(name, address)
        return address
