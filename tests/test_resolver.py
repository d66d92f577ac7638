"""The resolver's address guard, offline: names from a hosts mapping and IP literals only.

Every spelling of a private address must be refused, IPv6 translation forms included (they
lead to the IPv4 address they carry); the same forms of a public address are fetched.
"""

from __future__ import annotations

from ipaddress import ip_address
from pathlib import Path

import pytest
from twisted.internet.selectreactor import SelectReactor
from twisted.python.failure import Failure

from crawler.failures import RefusedAddress, describe_failure
from crawler.resolver import GuardedResolver, is_public, read_hosts_file

REFUSED = [
    "127.0.0.1",
    "10.0.0.1",
    "169.254.169.254",  # cloud metadata
    "224.0.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fec0::1",  # site-local, deprecated but still routed by some networks
    "ff02::1",
    "::ffff:10.0.0.1",  # IPv4-mapped
    "::ffff:127.0.0.1",
    "::ffff:0:10.0.0.1",  # SIIT (IPv4-translated)
    "::ffff:0:127.0.0.1",
    "::10.0.0.1",  # IPv4-compatible
    "::127.0.0.1",
    "64:ff9b::10.0.0.1",  # NAT64, well-known prefix
    "64:ff9b::127.0.0.1",
    "64:ff9b::169.254.169.254",
    "64:ff9b:1::a00:1",  # local-use NAT64: never public, whatever it carries
    "64:ff9b:1:808:8:800::",  # ... even 8.8.8.8 in its /48 position (RFC 6052)
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
]
PUBLIC = [
    "8.8.8.8",
    "2606:4700:4700::1111",
    "::ffff:8.8.8.8",
    "::ffff:0:8.8.8.8",
    "::8.8.8.8",
    "64:ff9b::8.8.8.8",
    "2002:808:808::1",  # 6to4 of 8.8.8.8
]


def resolver(hosts: dict[str, str], allow_private: bool = False) -> GuardedResolver:
    # A reactor that is never run: names from the mapping and literals need no lookup thread.
    return GuardedResolver(SelectReactor(), 0, 5.0, hosts, allow_private)


def outcome(guard: GuardedResolver, name: str) -> str | Failure:
    results: list[str | Failure] = []
    guard.getHostByName(name).addBoth(results.append)
    assert len(results) == 1, "a mapped name or a literal must resolve at once"
    return results[0]


@pytest.mark.parametrize("address", REFUSED)
def test_every_form_of_a_private_address_is_refused(address: str) -> None:
    assert not is_public(address)
    guard = resolver({"victim.test": address})
    for name in ("victim.test", "VICTIM.test.", address, f"[{address}]"):
        result = outcome(guard, name)
        assert isinstance(result, Failure), name
        exc = result.value
        assert isinstance(exc, RefusedAddress)
        assert exc.host == name and ip_address(exc.address) == ip_address(address)
        assert describe_failure(result) == "refused: non-public address"


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_and_their_translations_resolve(address: str) -> None:
    assert is_public(address)
    guard = resolver({"site.test": address})
    assert outcome(guard, "site.test") == address
    assert ip_address(outcome(guard, address)) == ip_address(address)  # type: ignore[arg-type]


@pytest.mark.parametrize("address", REFUSED)
def test_allow_private_lets_every_address_through(address: str) -> None:
    guard = resolver({"victim.test": address}, allow_private=True)
    assert outcome(guard, "victim.test") == address


def test_hosts_file_names_match_as_dns_names(tmp_path: Path) -> None:
    hosts_file = tmp_path / "hosts"
    hosts_file.write_text("# lab\n10.0.0.7 Intranet.Example. wiki.example  # two names\n")
    hosts = read_hosts_file(hosts_file)
    assert hosts == {"intranet.example": "10.0.0.7", "wiki.example": "10.0.0.7"}
    guard = resolver(hosts, allow_private=True)
    assert outcome(guard, "INTRANET.example.") == "10.0.0.7"
