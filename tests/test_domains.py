"""Hosts, origins and registered domains (bundled public-suffix snapshot only)."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

from crawler.urls import canonicalize, dns_name, host_of, origin_of, registered_domain


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("example.com", "example.com"),
        ("www.example.com", "example.com"),
        ("a.b.c.example.com", "example.com"),
        ("WWW.Example.COM", "example.com"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("bbc.co.uk", "bbc.co.uk"),
        ("news.example.com.au", "example.com.au"),
        ("city.kawasaki.jp", "city.kawasaki.jp"),  # an exception rule of the PSL
        # Private suffixes: every user site is its own registered domain.
        ("alice.github.io", "alice.github.io"),
        ("docs.alice.github.io", "alice.github.io"),
        ("foo.blogspot.com", "foo.blogspot.com"),
        # IDN hosts arrive punycoded from the URL parser.
        ("www.xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("www.xn--80ak6aa92e.xn--p1ai", "xn--80ak6aa92e.xn--p1ai"),
        # No registrable part: the host is its own domain.
        ("192.168.0.1", "192.168.0.1"),
        ("[2001:db8::1]", "[2001:db8::1]"),
        ("localhost", "localhost"),
        ("intranet", "intranet"),
        ("co.uk", "co.uk"),
        ("github.io", "github.io"),
        ("", ""),
    ],
)
def test_registered_domain(host: str, expected: str) -> None:
    assert registered_domain(host) == expected


def test_registered_domain_needs_no_network_and_logs_nothing() -> None:
    # A fresh interpreter, so the suffix list really is loaded here and not by an earlier test.
    code = (
        "import logging, socket\n"
        "logging.basicConfig(level=logging.DEBUG)\n"
        "def refuse(*a, **k): raise OSError('network used')\n"
        "socket.socket.connect = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from crawler.urls import registered_domain\n"
        "print(registered_domain('www.bbc.co.uk'), registered_domain('alice.github.io'))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert proc.stdout == "bbc.co.uk alice.github.io\n"
    assert proc.stderr == ""


def test_registered_domain_is_cached(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        assert registered_domain("shop.example.co.uk") == "example.co.uk"
        hits = registered_domain.cache_info().hits
        assert registered_domain("shop.example.co.uk") == "example.co.uk"
    assert registered_domain.cache_info().hits == hits + 1
    assert caplog.records == []


@pytest.mark.parametrize(
    ("url", "host", "origin"),
    [
        ("http://Example.COM/a", "example.com", "http://example.com:80"),
        ("https://example.com:443/a", "example.com", "https://example.com:443"),
        ("https://example.com:8443/a", "example.com", "https://example.com:8443"),
        ("http://user:pw@example.com:8080/a", "example.com", "http://example.com:8080"),
        ("http://bücher.de/", "xn--bcher-kva.de", "http://xn--bcher-kva.de:80"),
        ("http://[::1]:8080/", "[::1]", "http://[::1]:8080"),
        ("http://[::FFFF:10.0.0.1]/", "[::ffff:a00:1]", "http://[::ffff:a00:1]:80"),
        ("http://10.0.0.1/", "10.0.0.1", "http://10.0.0.1:80"),
        ("http://0x7f.1/", "127.0.0.1", "http://127.0.0.1:80"),
        ("http://example.com./", "example.com.", "http://example.com.:80"),
        ("ftp://example.com/", "", ""),
        ("not a url", "", ""),
    ],
)
def test_host_and_origin(url: str, host: str, origin: str) -> None:
    """host_of takes canonical URLs (what the crawler holds); origin_of takes any."""
    assert (host_of(canonicalize(url) or ""), origin_of(url)) == (host, origin)


@pytest.mark.parametrize("url", ["ftp://example.com/", "not a url", "", "mailto:a@example.com"])
def test_host_of_anything_but_http_is_empty(url: str) -> None:
    assert host_of(url) == ""


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Example.COM", "example.com"),
        ("example.com.", "example.com"),  # one DNS name, two URL hosts
        ("[::1]", "::1"),  # a URL's host and the name a resolver is asked for agree
        ("::1", "::1"),
        ("xn--bcher-kva.de", "xn--bcher-kva.de"),
    ],
)
def test_dns_name(name: str, expected: str) -> None:
    assert dns_name(name) == expected
