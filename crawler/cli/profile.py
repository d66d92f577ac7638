"""`linkgraph profile TARGET`: the backlink profile of a domain, host or page on one screen.

Counts, follow ratio, institutional share, the target domain's authority, then the top anchors,
linked pages, referring domains and the TLD mix. Every number comes from the views documented
in docs/sql.md, filtered on the target; `--format json` prints the same as one JSON document.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.cli.common import add_storage, non_negative_int, storage_target
from crawler.cli.filters import bind, literal, target_filter
from crawler.errors import UsageError
from crawler.storage import connect, first_line
from crawler.urls import canonicalize, host_of, registered_domain

SUMMARY_SQL = """
SELECT count() AS backlinks, countIf(follow = 1) AS follow_backlinks,
    countIf(follow = 0) AS nofollow_backlinks, countIf(ugc = 1) AS ugc_backlinks,
    countIf(sponsored = 1) AS sponsored_backlinks,
    uniqExact(src_domain) AS referring_domains,
    uniqExactIf(src_domain, follow = 1) AS follow_referring_domains,
    uniqExact(src_host) AS referring_hosts, uniqExact(src_url) AS referring_pages,
    uniqExact(dst_url) AS linked_pages, min(first_seen) AS first_seen, max(last_seen) AS last_seen
FROM backlinks WHERE {where}
"""
# The target's referring domains with their attributes, which depend on the source domain only
# and so are read from `referring_domains` of the target's registered domain.
REFERRING = """
(SELECT g.src_domain AS src_domain, g.backlinks AS backlinks,
    g.follow_backlinks AS follow_backlinks, a.tld AS tld, a.suffix AS suffix,
    a.country_code AS country_code, a.country AS country, a.institutional AS institutional,
    a.authority AS authority
 FROM (SELECT src_domain, count() AS backlinks, countIf(follow = 1) AS follow_backlinks
       FROM backlinks WHERE {where} GROUP BY src_domain) AS g
 INNER JOIN (SELECT src_domain, tld, suffix, country_code, country, institutional, authority
             FROM referring_domains WHERE dst_domain = {domain}) AS a
 ON a.src_domain = g.src_domain)
"""
SECTIONS = {
    "institutional": "SELECT countIf(institutional = 1) AS n FROM " + REFERRING,
    "authority": "SELECT authority, pagerank, harmonic FROM domain_rank WHERE domain = {domain}",
    "top_anchors": """
SELECT a AS anchor, count() AS backlinks, uniqExact(src_domain) AS referring_domains
FROM backlinks ARRAY JOIN anchors AS a WHERE {where}
GROUP BY a ORDER BY backlinks DESC, referring_domains DESC, anchor LIMIT {top}""",
    "top_pages": """
SELECT dst_url, count() AS backlinks, uniqExact(src_domain) AS referring_domains
FROM backlinks WHERE {where}
GROUP BY dst_url ORDER BY referring_domains DESC, backlinks DESC, dst_url LIMIT {top}""",
    "top_referring_domains": "SELECT src_domain, authority, backlinks, follow_backlinks FROM "
    + REFERRING
    + " ORDER BY authority DESC, backlinks DESC, src_domain LIMIT {top}",
    "tld_mix": "SELECT tld, country_code, country, count() AS referring_domains, "
    "sum(backlinks) AS backlinks FROM "
    + REFERRING
    + " GROUP BY tld, country_code, country ORDER BY referring_domains DESC, tld",
}


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "backlink profile of a domain, host or page: counts, follow ratio, top anchors, "
    text += "top linked pages, top referring domains, TLD mix"
    p = sub.add_parser("profile", help=text, description=text[0].upper() + text[1:] + ".")
    p.add_argument("target", metavar="TARGET", help="a registered domain, a host name or a URL")
    add_storage(p)
    p.add_argument("--top", type=non_negative_int, default=10, metavar="N",
                   help="rows in each top list (default 10)")  # fmt: skip
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help="text (default) or one JSON document")  # fmt: skip
    p.set_defaults(func=run)


def build_profile(client: Client, target: str, top: int) -> dict[str, Any]:
    where, params = target_filter(target)
    where = bind(where, params)
    host = host_of(params["target"]) if where.startswith("dst_url") else params["target"]
    domain = literal(registered_domain(host))
    values = {"where": where, "domain": domain, "top": top}

    def rows(sql: str) -> list[dict[str, Any]]:
        try:
            result = client.query(sql.format(**values))
        except ClickHouseError as exc:
            raise UsageError(f"query failed: {first_line(str(exc))}") from None
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    summary = rows(SUMMARY_SQL)[0]
    backlinks, domains = summary["backlinks"], summary["referring_domains"]
    institutional = rows(SECTIONS["institutional"])[0]["n"]
    rank = rows(SECTIONS["authority"])
    profile: dict[str, Any] = {
        "target": params["target"],
        "scope": where.split(" ", 1)[0].removeprefix("dst_"),
        "domain": registered_domain(host),
        **summary,
        "follow_ratio": summary["follow_backlinks"] / backlinks if backlinks else 0.0,
        "institutional_referring_domains": institutional,
        "institutional_share": institutional / domains if domains else 0.0,
        "authority": rank[0]["authority"] if rank else 0.0,
    }
    if not backlinks:
        profile["first_seen"] = profile["last_seen"] = None
    for name in ("top_anchors", "top_pages", "top_referring_domains", "tld_mix"):
        profile[name] = rows(SECTIONS[name])
    return profile


def run(args: argparse.Namespace) -> int:
    if "://" in args.target and canonicalize(args.target) is None:
        raise UsageError(f"{args.target!r} is not an absolute http(s) URL")
    profile = build_profile(connect(storage_target(args)), args.target, args.top)
    if args.format == "json":
        json.dump(profile, sys.stdout, default=_json_value, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render(profile))
    return 0


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def render(p: dict[str, Any]) -> str:
    lines = [
        f"Backlink profile of {p['scope']} {p['target']} (domain {p['domain']}, "
        f"authority {p['authority']:.1f})",
        f"  backlinks            {p['backlinks']}  (follow {p['follow_backlinks']}, nofollow "
        f"{p['nofollow_backlinks']}, ugc {p['ugc_backlinks']}, sponsored "
        f"{p['sponsored_backlinks']}); follow ratio {p['follow_ratio']:.1%}",
        f"  referring domains    {p['referring_domains']}  (follow "
        f"{p['follow_referring_domains']}; institutional {p['institutional_referring_domains']}"
        f" = {p['institutional_share']:.1%})",
        f"  referring hosts      {p['referring_hosts']}; referring pages {p['referring_pages']}; "
        f"linked pages {p['linked_pages']}",
        f"  first seen           {p['first_seen'] or '-'}; last seen {p['last_seen'] or '-'}",
    ]
    for title, key, columns in (
        ("Top anchors", "top_anchors", ("anchor", "backlinks", "referring_domains")),
        ("Top linked pages", "top_pages", ("dst_url", "backlinks", "referring_domains")),
        (
            "Top referring domains",
            "top_referring_domains",
            ("src_domain", "authority", "backlinks", "follow_backlinks"),
        ),
        ("TLD mix", "tld_mix", ("tld", "country", "referring_domains", "backlinks")),
    ):
        lines += ["", title, *_table(p[key], columns)]
    return "\n".join(lines) + "\n"


def _table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> list[str]:
    if not rows:
        return ["  (none)"]
    cells = [[_cell(r[c]) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    out = ["  " + "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    for row in cells:
        out.append("  " + "  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)))
    return out


def _cell(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, float) else str(value)
