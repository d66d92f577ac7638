"""Crawl scope and trap filters: what is followed (everything is recorded regardless)."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.scope import Scope, read_domains
from tests.conftest import SHORT_BACKOFF, query, run_linkgraph
from tests.testweb import build_test_web

SEEDS = frozenset({"other.org"})
SHOP = frozenset({"shop.example.com"})


@pytest.mark.parametrize(
    ("scope", "url", "reason"),
    [
        (Scope(), "http://a.example.com/x", ""),
        (Scope(mode="same-domain"), "http://www.example.com/", ""),
        (Scope(mode="same-domain"), "http://other.org/", "other domain"),
        (Scope(mode="seed-domains", seed_domains=SEEDS), "http://x.other.org/", ""),
        (Scope(mode="seed-domains", seed_domains=SEEDS), "http://b.com/", "not a seed domain"),
        (Scope(deny=frozenset({"example.com"})), "http://deep.www.example.com/", "denied domain"),
        (Scope(allow=SHOP), "http://shop.example.com/a", ""),
        (Scope(allow=SHOP), "http://blog.example.com/a", "domain not allowed"),
        (Scope(max_url_length=30), "http://a.example.com/" + "x" * 20, "URL too long"),
        (Scope(), "http://a.example.com/cart;jsessionid=ABC123", "session id"),
        (Scope(), "http://a.example.com/list?PHPSESSID=1&p=2", "session id"),
        (Scope(), "http://a.example.com/a/b/a/b/a/b/a/b", "repeated path segments"),
        (Scope(), "http://a.example.com/a/b/a/b/a/b", ""),
    ],
)
def test_why_not(scope: Scope, url: str, reason: str) -> None:
    assert scope.why_not(url, "example.com") == reason


def test_read_domains_from_flags_and_files(tmp_path: Path) -> None:
    listed = tmp_path / "deny.txt"
    listed.write_text("# spam\nSpam.example.\n\nbücher.de  # idn\n")
    assert read_domains(["Ads.Example.com"], [str(listed)]) == {
        "ads.example.com",
        "spam.example",
        "xn--bcher-kva.de",
    }


def test_seed_domains_scope_keeps_the_crawl_home(tmp_path: Path) -> None:
    web = build_test_web()
    data, hosts_file = tmp_path / "data", tmp_path / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        seeds = web.seeds(server.port)
        run_linkgraph(
            "crawl",
            *seeds,
            "--data-dir",
            str(data),
            "--hosts-file",
            str(hosts_file),
            "--allow-private",
            "--delay",
            "0",
            "-q",
            *SHORT_BACKOFF,
            "--scope",
            "seed-domains",
        )
    domains = web.domains()
    seed_domains = {domains[u.split("/")[2].split(":")[0]] for u in seeds}
    fetched = {d for (d,) in query(data, "SELECT DISTINCT domain FROM pages")}
    assert fetched == seed_domains
    # links out of the seed domains are still recorded
    outside = query(
        data,
        "SELECT count() FROM links WHERE dst_domain NOT IN "
        f"({', '.join(repr(d) for d in seed_domains)})",
    )
    assert outside[0][0] > 0
