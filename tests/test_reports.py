"""The report registry: every registered report run by name (as the HTTP service will run it)
against the ground truth of the crawled test web, every report's subcommand giving the same rows,
every variant's columns as declared, and docs/sql.md's table of reports as generated."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime
from itertools import accumulate
from typing import Any

import pytest

from crawler.errors import UsageError
from crawler.reports import REPORTS, Report, run_report
from crawler.reports.docs import DOCS, generated
from crawler.storage import StorageTarget, connect
from tests.conftest import IndexedWeb, query, run_cli
from tests.indextruth import IndexTruth

Rows = list[dict[str, Any]]


@pytest.fixture(scope="module")
def truth(indexed_web: IndexedWeb) -> IndexTruth:
    return IndexTruth(indexed_web.web, indexed_web.port)


def report(indexed: IndexedWeb, name: str, **params: Any) -> Rows:
    """Rows of a report, run by name with plain parameters on the crawled index."""
    client = connect(StorageTarget("", indexed.data_dir))
    try:
        rows = run_report(client, name, {"limit": 1000, **params} if name != "profile" else params)
    finally:
        client.close()
    assert isinstance(rows, list)
    return rows


def check_backlinks(indexed: IndexedWeb, truth: IndexTruth) -> None:
    pairs = sorted(truth.of("alice.github.io"), key=lambda p: (-p.follow, p.src_domain, p.src,
                                                                p.dst))  # fmt: skip
    rows = report(indexed, "backlinks", target="alice.github.io")
    assert [(r["src_url"], r["dst_url"], r["follow"]) for r in rows] == [
        (p.src, p.dst, int(p.follow)) for p in pairs
    ]
    host = report(indexed, "backlinks", target="www.example.com")
    assert {(r["src_url"], r["dst_url"]) for r in host} == {
        (p.src, p.dst) for p in truth.pairs if p.dst_host == "www.example.com"
    }
    # by link type: bob.github.io has text, image and area backlinks
    bob = truth.of("bob.github.io")
    rows = report(indexed, "backlinks", target="bob.github.io")
    assert {(r["src_url"], r["dst_url"]): r["types"] for r in rows} == {
        (p.src, p.dst): list(p.types) for p in bob
    }
    for kind in ("image", "area", "text"):
        rows = report(indexed, "backlinks", target="bob.github.io", type=kind)
        expected = {(p.src, p.dst) for p in bob if kind in p.types}
        assert expected and {(r["src_url"], r["dst_url"]) for r in rows} == expected, kind
    rows = report(indexed, "backlinks", target="example.co.uk", type="form")
    assert [(r["src_url"], r["types"]) for r in rows] == [
        (p.src, list(p.types)) for p in truth.of("example.co.uk") if "form" in p.types
    ] and rows


def check_refdomains(indexed: IndexedWeb, truth: IndexTruth) -> None:
    expected = {src: (v[0], v[1], v[6]) for (dst, src), v in truth.referring_domains().items()
                if dst == "example.com"}  # fmt: skip
    rows = report(indexed, "refdomains", target="example.com")
    got = [(r["src_domain"], (r["backlinks"], r["follow_backlinks"], r["linked_pages"]))
           for r in rows]  # fmt: skip
    assert got == sorted(expected.items(), key=lambda kv: (-int(str(kv[1][0])), kv[0]))
    assert {r["authority"] for r in rows} == {0.0}  # `rank` has not run


def check_anchors(indexed: IndexedWeb, truth: IndexTruth) -> None:
    counts: dict[str, list[Any]] = defaultdict(lambda: [0, set(), 0])
    for p in truth.of("example.com"):
        for anchor in p.anchors:
            counts[anchor][0] += 1
            counts[anchor][1].add(p.src_domain)
            counts[anchor][2] += p.follow
    expected = sorted(((a, n, len(d), f) for a, (n, d, f) in counts.items()),
                      key=lambda row: (-row[1], row[0]))  # fmt: skip
    rows = report(indexed, "anchors", domain="example.com")
    assert [(r["anchor"], r["backlinks"], r["referring_domains"], r["follow_backlinks"])
            for r in rows] == expected  # fmt: skip


def check_top(indexed: IndexedWeb, truth: IndexTruth) -> None:
    inbound = truth.web.expected_domain_inbound()
    expected = sorted(inbound.items(), key=lambda kv: (-kv[1][0], -kv[1][1], kv[0]))
    rows = report(indexed, "top")
    assert [(r["domain"], (r["referring_domains"], r["backlinks"], r["follow_backlinks"],
             r["nofollow_backlinks"])) for r in rows] == expected  # fmt: skip
    assert [r["domain"] for r in report(indexed, "top", limit=3)] == [d for d, _ in expected[:3]]


def check_profile(indexed: IndexedWeb, truth: IndexTruth) -> None:
    (profile,) = report(indexed, "profile", target="example.com", top=2)
    expected = truth.profile(truth.of("example.com"))
    assert {k: profile[k] for k in expected} == expected
    assert (profile["scope"], profile["target"], profile["domain"]) == (
        "domain", "example.com", "example.com",
    )  # fmt: skip
    pages: dict[str, set[str]] = defaultdict(set)
    for p in truth.of("example.com"):
        pages[p.dst].add(p.src_domain)
    ranked = sorted(pages, key=lambda u: (-len(pages[u]), u))
    assert [r["dst_url"] for r in profile["top_pages"]][:1] == ranked[:1]
    assert len(profile["top_anchors"]) == 2 and len(profile["top_referring_domains"]) == 2
    # the mix of link types: a backlink with links of two types counts in both
    (profile,) = report(indexed, "profile", target="bob.github.io")
    bob = truth.of("bob.github.io")
    mix = {kind: [p for p in bob if kind in p.types] for p in bob for kind in p.types}
    assert {r["type"]: (r["backlinks"], r["referring_domains"]) for r in profile["type_mix"]} == {
        kind: (len(pairs), len({p.src_domain for p in pairs})) for kind, pairs in mix.items()
    }
    assert {"text", "image", "area"} <= set(mix)
    (image,) = report(indexed, "profile", target="bob.github.io", type="image")
    assert image["backlinks"] == len(mix["image"])


def check_top_pages(indexed: IndexedWeb, truth: IndexTruth) -> None:
    expected = {u: v for u, v in truth.top_pages().items() if "//alice.github.io:" in u}
    rows = report(indexed, "top-pages", target="alice.github.io")
    assert [(r["dst_url"], (r["backlinks"], r["referring_domains"], r["follow_backlinks"]))
            for r in rows] == sorted(expected.items(), key=lambda kv: (-kv[1][1], -kv[1][0],
                                                                       kv[0]))  # fmt: skip


def check_outlinks(indexed: IndexedWeb, truth: IndexTruth) -> None:
    rows = report(indexed, "outlinks", domain="example.com")
    assert sorted((r["src_url"], r["dst_url"], r["follow"]) for r in rows) == sorted(
        (p.src, p.dst, int(p.follow)) for p in truth.pairs if p.src_domain == "example.com"
    )
    rows = report(indexed, "outlinks", domain="example.com", by_domain=True)
    expected = {dst: v for (src, dst), v in truth.linked_domains().items() if src == "example.com"}
    assert [(r["dst_domain"], (r["links"], r["follow_links"], r["linking_pages"],
             r["linked_pages"])) for r in rows] == sorted(
        expected.items(), key=lambda kv: (-kv[1][0], kv[0])
    )  # fmt: skip


def check_broken(indexed: IndexedWeb, truth: IndexTruth) -> None:
    rows = report(indexed, "broken", target="example.net")
    expected = {(p.src, p.dst, truth.status[p.dst]) for p in truth.of("example.net")
                if truth.status.get(p.dst, 0) >= 400}  # fmt: skip
    assert expected and [(r["src_url"], r["dst_url"], r["status"]) for r in rows] == sorted(
        expected, key=lambda b: (b[1], b[0])
    )


def check_tlds(indexed: IndexedWeb, truth: IndexTruth) -> None:
    expected = {tld: v for (dst, tld), v in truth.by_tld().items() if dst == "alice.github.io"}
    rows = report(indexed, "tlds", domain="alice.github.io")
    assert [(r["tld"], (r["country_code"], r["country"], r["referring_domains"], r["backlinks"],
             r["institutional_referring_domains"])) for r in rows] == sorted(
        expected.items(), key=lambda kv: (-kv[1][2], kv[0])
    )  # fmt: skip
    suffixes: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (dst, _), row in truth.referring_domains().items():
        if dst == "alice.github.io":
            suffixes[str(row[7])][0] += 1
            suffixes[str(row[7])][1] += int(str(row[0]))
    rows = report(indexed, "tlds", domain="alice.github.io", by_suffix=True)
    assert [(r["suffix"], [r["referring_domains"], r["backlinks"]]) for r in rows] == sorted(
        suffixes.items(), key=lambda kv: (-kv[1][0], kv[0])
    )


def check_intersect(indexed: IndexedWeb, truth: IndexTruth) -> None:
    competitors = ["alice.github.io", "bob.github.io", "carol.github.io"]
    rows = report(indexed, "intersect", domain="example.com", competitors=competitors, min=2)
    expected = truth.intersect("example.com", competitors, 2)
    assert expected and {r["src_domain"]: r["competitors"] for r in rows} == expected


def check_changes(indexed: IndexedWeb, truth: IndexTruth) -> None:
    """One crawl: every live backlink of its pages is new, none is lost."""
    domains = indexed.web.domains()

    def domain(url: str) -> str:
        return domains[url.split("/")[2].split(":")[0]]

    expected = {
        (truth.at(src), truth.at(link.url or ""))
        for src, o in indexed.web.outcomes.items() if not o.noindex
        for link, _ in o.links
        if domain(link.url or "") == "example.com" != domain(src)
    }  # fmt: skip
    rows = report(indexed, "changes", target="example.com", since="2000-01-01")
    assert expected and {(r["src_url"], r["dst_url"]) for r in rows} == expected
    assert len(rows) == len(expected) and {r["change"] for r in rows} == {"new"}
    assert rows == sorted(rows, key=lambda r: (-r["at"].timestamp(), r["src_url"], r["dst_url"]))
    assert report(indexed, "changes", target="example.com", since="2000-01-01", lost=True) == []


def check_history(indexed: IndexedWeb, truth: IndexTruth) -> None:
    """One crawl: every live backlink is new when its source page is fetched, so the totals
    climb to the live backlinks of example.com and their domains, step by step."""
    domains = indexed.web.domains()

    def domain(url: str) -> str:
        return domains[url.split("/")[2].split(":")[0]]

    live = {
        (truth.at(src), truth.at(link.url or ""))
        for src, o in indexed.web.outcomes.items() if not o.noindex
        for link, _ in o.links
        if domain(link.url or "") == "example.com" != domain(src)
    }  # fmt: skip
    fetched = dict(query(indexed.data_dir, "SELECT url, fetched_at FROM pages"))
    per_second = Counter(fetched[src].replace(microsecond=0) for src, _ in live)
    first_second: dict[str, datetime] = {}
    for src, _ in sorted(live, key=lambda pair: fetched[pair[0]]):
        first_second.setdefault(domain(src), fetched[src].replace(microsecond=0))
    for step in (86400, 1):
        rows = report(indexed, "history", target="example.com", step=step)
        assert rows == sorted(rows, key=lambda r: r["at"], reverse=True)
        assert (rows[0]["backlinks"], rows[0]["referring_domains"]) == (
            len(live), len({domain(src) for src, _ in live}),
        )  # fmt: skip
        assert {(r["lost_backlinks"], r["lost_referring_domains"]) for r in rows} == {(0, 0)}
        older = rows[::-1]
        totals = accumulate(r["new_backlinks"] for r in older)
        assert [r["backlinks"] for r in older] == list(totals)
    assert {r["at"]: r["new_backlinks"] for r in rows} == per_second
    assert {r["at"]: r["new_referring_domains"] for r in rows if r["new_referring_domains"]} == (
        Counter(first_second.values())
    )


def check_refdomain_changes(indexed: IndexedWeb, truth: IndexTruth) -> None:
    """One crawl: every referring domain of its live backlinks is new, with their number."""
    domains = indexed.web.domains()

    def domain(url: str) -> str:
        return domains[url.split("/")[2].split(":")[0]]

    live = {
        (src, link.url or "")
        for src, o in indexed.web.outcomes.items() if not o.noindex
        for link, _ in o.links
        if domain(link.url or "") == "example.com" != domain(src)
    }  # fmt: skip
    expected = Counter(domain(src) for src, _ in live)
    rows = report(indexed, "refdomain-changes", domain="example.com", since="2000-01-01")
    assert expected and {r["src_domain"]: r["backlinks"] for r in rows} == expected
    assert len(rows) == len(expected) and {(r["change"], r["job"]) for r in rows} == {("new", "v1")}
    assert rows == sorted(rows, key=lambda r: (-r["at"].timestamp(), r["src_domain"]))
    assert report(indexed, "refdomain-changes", domain="example.com", since="2000-01-01",
                  lost=True) == []  # fmt: skip
    assert report(indexed, "refdomain-changes", domain="example.com", since="2000-01-01",
                  job="v2") == []  # fmt: skip


CHECKS: dict[str, Callable[[IndexedWeb, IndexTruth], None]] = {
    "backlinks": check_backlinks,
    "refdomains": check_refdomains,
    "anchors": check_anchors,
    "top": check_top,
    "profile": check_profile,
    "top-pages": check_top_pages,
    "outlinks": check_outlinks,
    "broken": check_broken,
    "tlds": check_tlds,
    "intersect": check_intersect,
    "changes": check_changes,
    "history": check_history,
    "refdomain-changes": check_refdomain_changes,
}
# The parameters each report's subcommand and column checks run with.
SAMPLES: dict[str, dict[str, Any]] = {
    "backlinks": {"target": "example.com"},
    "refdomains": {"target": "example.com"},
    "anchors": {"domain": "example.com"},
    "top": {},
    "profile": {"target": "www.example.com"},
    "top-pages": {"target": "example.com"},
    "outlinks": {"domain": "example.com"},
    "broken": {"target": "example.net"},
    "tlds": {"domain": "example.com"},
    "intersect": {"domain": "example.com", "competitors": ["alice.github.io", "bob.github.io"]},
    "changes": {"target": "example.com", "since": "2000-01-01"},
    "history": {"target": "example.com"},
    "refdomain-changes": {"domain": "example.com", "since": "2000-01-01"},
}


def test_every_report_has_a_ground_truth_check() -> None:
    assert set(CHECKS) == set(REPORTS) == set(SAMPLES)


@pytest.mark.parametrize("name", list(REPORTS))
def test_report_against_ground_truth(indexed_web: IndexedWeb, truth: IndexTruth, name: str) -> None:
    CHECKS[name](indexed_web, truth)


def variants(r: Report) -> list[str]:
    return ["", *(flag for flag, _ in r.variants)]


@pytest.mark.parametrize(
    ("name", "flag"), [(name, flag) for name, r in REPORTS.items() for flag in variants(r)]
)
def test_columns_are_as_declared(indexed_web: IndexedWeb, name: str, flag: str) -> None:
    r = REPORTS[name]
    params = {**SAMPLES[name], **({flag: True} if flag else {})}
    rows = report(indexed_web, name, **params)
    assert rows, "a sample with no rows shows no columns"
    if r.query is None:  # a document: one key per column of each of its sections
        for section, query in r.sections:
            if section in rows[0] and rows[0][section]:
                assert tuple(rows[0][section][0]) == query.columns, section
        return
    query = dict(r.variants).get(flag, r.query)
    assert tuple(rows[0]) == query.columns


def argv(r: Report, params: dict[str, Any]) -> list[str]:
    """The command line that gives `params` to the report's subcommand."""
    args = [r.name]
    for p in r.all_params:
        value = params.get(p.name)
        if value is None or value is False:
            continue
        if p.positional:
            args += value if p.many else [value]
        else:
            args += [p.flag] if value is True else [p.flag, str(value)]
    return args


def without_times(row: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in row.items() if not isinstance(v, datetime)}


@pytest.mark.parametrize("name", list(REPORTS))
def test_subcommand_prints_the_report(indexed_web: IndexedWeb, name: str) -> None:
    r = REPORTS[name]
    rows = report(indexed_web, name, **SAMPLES[name])
    output = ["--format", "json"] if r.formats else ["--format", "JSONEachRow", "--limit", "1000"]
    data = ["--data-dir", str(indexed_web.data_dir)]
    status, out, err = run_cli(*argv(r, SAMPLES[name]), *data, *output)
    assert status == 0, err
    printed = [json.loads(line) for line in out.splitlines()]
    if r.formats:
        keep = [k for k, v in rows[0].items() if not isinstance(v, (datetime, list))]
        assert {k: printed[0][k] for k in keep} == {k: rows[0][k] for k in keep}
        return
    times = [k for k, v in rows[0].items() if isinstance(v, datetime)]
    assert [{k: v for k, v in p.items() if k not in times} for p in printed] == [
        without_times(row) for row in rows
    ]


def test_bad_parameters_are_one_line_errors(indexed_web: IndexedWeb) -> None:
    for name, params, message in (
        ("nope", {}, "no report named 'nope'"),
        ("backlinks", {}, "TARGET is required"),
        ("backlinks", {"target": "x.com", "follow": True, "nofollow": True},
         "--follow and --nofollow exclude each other"),
        ("backlinks", {"target": "x.com", "colour": "red"}, "no parameter 'colour'"),
        ("backlinks", {"target": "x.com", "limit": "-1"}, "--limit -1 is negative"),
        ("backlinks", {"target": "x.com", "page": "nope"}, "--page 'nope' is not an absolute"),
        ("top-pages", {"target": "http://x.com/"}, "not a URL"),
        ("anchors", {"domain": "www.x.com"}, "give its registered domain, x.com"),
        ("changes", {"target": "x.com", "since": "2026-02-01", "until": "2026-01-01"},
         "--since 2026-02-01 00:00:00 is later than --until 2026-01-01 00:00:00"),
        ("history", {"target": "x.com", "step": "0"}, "--step must be at least 1 second"),
    ):  # fmt: skip
        with pytest.raises(UsageError) as caught:
            report(indexed_web, name, **params)
        assert message in str(caught.value) and "\n" not in str(caught.value)


def test_values_are_sent_as_parameters_not_spliced(indexed_web: IndexedWeb) -> None:
    """A quote or backslash in an anchor filter is a value, not SQL."""
    for anchor in ("x' OR 1 = 1 OR '", "\\'"):
        assert report(indexed_web, "backlinks", target="alice.github.io", anchor=anchor) == []
    assert report(indexed_web, "backlinks", target="alice.github.io", anchor="Alice")


def test_docs_table_is_generated_from_the_registry() -> None:
    text = DOCS.read_text("utf-8")
    assert generated(text) == text, "run `python -m crawler.reports.docs` to update docs/sql.md"
