"""The link-index views and their commands on the crawled test web, against the declared ground
truth, exactly: referring domains with suffix, TLD and country, profiles, top pages, outbound
links, broken backlinks, link intersect, and the backlink filters."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import pytest

from tests.conftest import IndexedWeb, query, run_cli, run_linkgraph
from tests.indextruth import IndexTruth


@pytest.fixture(scope="module")
def truth(indexed_web: IndexedWeb) -> IndexTruth:
    return IndexTruth(indexed_web.web, indexed_web.port)


def cli(indexed: IndexedWeb, *args: str) -> list[dict[str, Any]]:
    status, out, err = run_cli(*args, "--data-dir", str(indexed.data_dir), "--format",
                               "JSONEachRow", "--limit", "1000")  # fmt: skip
    assert status == 0, err
    return [json.loads(line) for line in out.splitlines()]


def test_referring_domains(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    rows = query(
        indexed_web.data_dir,
        "SELECT dst_domain, src_domain, backlinks, follow_backlinks, nofollow_backlinks, "
        "ugc_backlinks, sponsored_backlinks, referring_pages, linked_pages, suffix, tld, "
        "country_code, country, institutional FROM referring_domains",
    )
    got = {(r[0], r[1]): tuple(r[2:]) for r in rows}
    assert len(got) == len(rows)
    assert got == truth.referring_domains()


def test_referring_domains_by_tld_and_suffix(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    rows = query(
        indexed_web.data_dir,
        "SELECT dst_domain, tld, country_code, country, referring_domains, backlinks, "
        "institutional_referring_domains FROM refdomains_by_tld",
    )
    assert {(r[0], r[1]): tuple(r[2:]) for r in rows} == truth.by_tld()
    expected: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for (dst, _), row in truth.referring_domains().items():
        acc = expected[(dst, str(row[7]))]
        acc[0] += 1
        acc[1] += int(str(row[0]))
    rows = query(
        indexed_web.data_dir,
        "SELECT dst_domain, suffix, referring_domains, backlinks FROM refdomains_by_suffix",
    )
    assert {(r[0], r[1]): [r[2], r[3]] for r in rows} == dict(expected)
    # the command: alice.github.io is linked from example.edu, an institution
    by_tld = cli(indexed_web, "tlds", "alice.github.io")
    assert {r["tld"]: r["referring_domains"] for r in by_tld} == {
        tld: v[2] for (dst, tld), v in truth.by_tld().items() if dst == "alice.github.io"
    }
    assert next(r for r in by_tld if r["tld"] == "edu")["institutional_referring_domains"] == 1
    by_suffix = cli(indexed_web, "tlds", "alice.github.io", "--by-suffix")
    assert {r["suffix"]: r["referring_domains"] for r in by_suffix} == {
        s: v[0] for (dst, s), v in expected.items() if dst == "alice.github.io"
    }


def test_domain_profile_view(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    columns = list(truth.profile(truth.pairs))
    rows = query(
        indexed_web.data_dir,
        f"SELECT domain, follow_ratio, institutional_share, {', '.join(columns)} "
        "FROM domain_profile",
    )
    got = {r[0]: dict(zip(columns, r[3:], strict=True)) for r in rows}
    domains = {p.dst_domain for p in truth.pairs}
    assert got == {d: truth.profile(truth.of(d)) for d in domains}
    for domain, ratio, share, *_ in rows:
        assert ratio == got[domain]["follow_backlinks"] / got[domain]["backlinks"]
        assert (
            share
            == got[domain]["institutional_referring_domains"] / (got[domain]["referring_domains"])
        )


@pytest.mark.parametrize("scope", ["domain", "host", "url"])
def test_profile_command(indexed_web: IndexedWeb, truth: IndexTruth, scope: str) -> None:
    pairs = truth.of("example.com")
    if scope == "domain":
        target = "example.com"
    elif scope == "host":
        target = "WWW.example.com"
        pairs = [p for p in pairs if p.dst_host == "www.example.com"]
    else:
        target = truth.at("http://www.example.com:{port}/")
        pairs = [p for p in pairs if p.dst == target]
    status, out, _ = run_cli("profile", target, "--data-dir", str(indexed_web.data_dir),
                             "--format", "json", "--top", "3")  # fmt: skip
    assert status == 0
    profile = json.loads(out)
    expected = truth.profile(pairs)
    assert {k: profile[k] for k in expected} == expected
    assert profile["scope"] == scope and profile["domain"] == "example.com"
    assert profile["follow_ratio"] == expected["follow_backlinks"] / len(pairs)
    anchors: dict[str, int] = defaultdict(int)
    for p in pairs:
        for a in p.anchors:
            anchors[a] += 1
    ranked = sorted(anchors.items(), key=lambda kv: (-kv[1], kv[0]))
    assert [(r["anchor"], r["backlinks"]) for r in profile["top_anchors"]] == ranked[:3]
    pages: dict[str, set[str]] = defaultdict(set)
    for p in pairs:
        pages[p.dst].add(p.src_domain)
    assert profile["top_pages"][0]["dst_url"] == max(pages, key=lambda u: len(pages[u]))
    tlds: dict[str, int] = defaultdict(int)
    for src in {p.src_domain for p in pairs}:
        tlds[truth.referring_domains()[("example.com", src)][8]] += 1  # type: ignore[index]
    assert {r["tld"]: r["referring_domains"] for r in profile["tld_mix"]} == dict(tlds)
    assert len(profile["top_referring_domains"]) == min(3, expected["referring_domains"])
    status, text, _ = run_cli("profile", target, "--data-dir", str(indexed_web.data_dir))
    assert status == 0
    assert f"backlinks            {len(pairs)}  (follow {expected['follow_backlinks']}" in text


def test_top_pages(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    rows = query(
        indexed_web.data_dir,
        "SELECT dst_url, backlinks, referring_domains, follow_backlinks FROM top_pages",
    )
    assert {r[0]: tuple(r[1:]) for r in rows} == truth.top_pages()
    report = cli(indexed_web, "top-pages", "alice.github.io")
    expected = {u: v for u, v in truth.top_pages().items() if "alice.github.io" in u}
    assert [r["dst_url"] for r in report] == sorted(
        expected, key=lambda u: (-expected[u][1], -expected[u][0], u)
    )


def test_outlinks_and_linked_domains(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    rows = query(
        indexed_web.data_dir,
        "SELECT src_domain, dst_domain, links, follow_links, linking_pages, linked_pages "
        "FROM linked_domains",
    )
    assert {(r[0], r[1]): tuple(r[2:]) for r in rows} == truth.linked_domains()
    links = cli(indexed_web, "outlinks", "example.com")
    assert {(r["src_url"], r["dst_url"], r["follow"]) for r in links} == {
        (p.src, p.dst, int(p.follow)) for p in truth.pairs if p.src_domain == "example.com"
    }
    by_domain = cli(indexed_web, "outlinks", "example.com", "--by-domain")
    assert {r["dst_domain"]: r["links"] for r in by_domain} == {
        dst: v[0] for (src, dst), v in truth.linked_domains().items() if src == "example.com"
    }


def test_broken_backlinks(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    rows = query(indexed_web.data_dir, "SELECT src_url, dst_url, status FROM broken_backlinks")
    assert set(rows) == truth.broken() and len(rows) == len(truth.broken())
    assert truth.broken(), "the test web has broken backlinks"
    # every broken target of the test web answered: 404 and 410 are gone, 5xx unreachable
    states = query(indexed_web.data_dir, "SELECT DISTINCT dst_url, state FROM broken_backlinks")
    assert dict(states) == {
        dst: "gone" if status in (404, 410) else "unreachable" if status >= 500 else "error"
        for _, dst, status in truth.broken()
    }
    assert {state for _, state in states} == {"gone"}  # 404s only; tests/test_retries.py has more
    report = cli(indexed_web, "broken", "example.net")
    assert {(r["src_url"], r["dst_url"], r["status"]) for r in report} == truth.broken()


@pytest.mark.parametrize(
    ("target", "competitors", "k"),
    [
        ("example.com", ["alice.github.io", "bob.github.io"], 2),
        ("example.com", ["alice.github.io", "bob.github.io", "carol.github.io"], 1),
        ("carol.github.io", ["alice.github.io", "bob.github.io", "example.co.uk"], 2),
    ],
)
def test_link_intersect(
    indexed_web: IndexedWeb, truth: IndexTruth, target: str, competitors: list[str], k: int
) -> None:
    rows = cli(indexed_web, "intersect", target, *competitors, "--min", str(k))
    expected = truth.intersect(target, competitors, k)
    assert expected, "a case with no answer tests nothing"
    assert {r["src_domain"]: r["competitors"] for r in rows} == expected
    assert all(r["competitors_linked"] == len(r["competitors"]) for r in rows)


def test_backlink_filters(indexed_web: IndexedWeb, truth: IndexTruth) -> None:
    def got(*flags: str) -> set[tuple[str, str]]:
        rows = cli(indexed_web, "backlinks", "alice.github.io", *flags)
        return {(r["src_url"], r["dst_url"]) for r in rows}

    pairs = truth.of("alice.github.io")
    for flag, keep in (
        ("--follow", lambda p: p.follow),
        ("--nofollow", lambda p: not p.follow),
        ("--ugc", lambda p: p.ugc),
        ("--sponsored", lambda p: p.sponsored),
    ):
        expected = {(p.src, p.dst) for p in pairs if keep(p)}
        assert expected and got(flag) == expected, flag
    assert got("--anchor", "Alice") == {(p.src, p.dst) for p in pairs if "Alice" in p.anchors}
    home = truth.at("http://alice.github.io:{port}/")
    assert got("--page", home) == {(p.src, p.dst) for p in pairs if p.dst == home}
    assert got("--first-seen-after", "2000-01-01", "--last-seen-before", "2100-01-01") == {
        (p.src, p.dst) for p in pairs
    }
    assert got("--first-seen-before", "2000-01-01") == set()
    assert got("--last-seen-after", "2100-01-01T00:00:00") == set()
    refdomains = cli(indexed_web, "refdomains", "alice.github.io", "--nofollow")
    assert {r["src_domain"] for r in refdomains} == {p.src_domain for p in pairs if not p.follow}
    # a referring domain's dates are its earliest and latest backlink's (tests/test_history.py)
    for flags, kept in (
        (("--first-seen-after", "2000-01-01", "--last-seen-before", "2100-01-01"), pairs),
        (("--first-seen-before", "2000-01-01"), []),
        (("--last-seen-after", "2100-01-01"), []),
        (("--first-seen-after", "2000-01-01", "--follow"), [p for p in pairs if p.follow]),
    ):
        refdomains = cli(indexed_web, "refdomains", "alice.github.io", *flags)
        assert {r["src_domain"] for r in refdomains} == {p.src_domain for p in kept}, flags


def test_bad_report_arguments_are_one_line_errors(indexed_web: IndexedWeb) -> None:
    data = str(indexed_web.data_dir)
    for args, message in (
        (["intersect", "example.com", "example.com"], "cannot be a competitor"),
        (["intersect", "example.com", "alice.github.io", "--min", "2"], "--min must be"),
        (["outlinks", "www.example.com"], "give its registered domain, example.com"),
        (["top-pages", "http://www.example.com/"], "not a URL"),
        (["disavow", "example.com", "--where", "authority < 1) OR (1"], "not one SQL condition"),
    ):
        status, _, err = run_cli(*args, "--data-dir", data)
        assert status == 2, args
        assert err.startswith("linkgraph: error: ") and message in err, err
        assert len(err.strip().splitlines()) == 1, err
    proc = run_linkgraph("outlinks", "www.example.com", "--data-dir", data, check=False)
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "linkgraph: error: 'www.example.com' is a host name: give its registered domain, "
        "example.com"
    ]
    status, _, err = run_cli("backlinks", "example.com", "--first-seen-after", "yesterday")
    assert status == 2 and "'yesterday' is not a date" in err
