"""The profile report: the backlink profile of a domain, host or page as one document.

Counts, follow ratio, institutional share, the target domain's authority, then the top anchors,
linked pages, referring domains, the TLD mix and the mix of link types (text, image, redirect,
canonical...; a backlink with links of two types counts in both). `--type` narrows it all to the
backlinks with a link of one type. Each section is a query over the views of
docs/sql.md, filtered on the target; `json` prints the document, `text` one screen of it.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from clickhouse_connect.driver.exceptions import ClickHouseError

from crawler.errors import UsageError
from crawler.reports.model import Param, Query, Report
from crawler.reports.params import target
from crawler.reports.values import COUNT, LINK_TYPE
from crawler.storage import first_line

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from crawler.reports.model import Values

SUMMARY_COLUMNS = (
    "backlinks", "follow_backlinks", "nofollow_backlinks", "ugc_backlinks",
    "sponsored_backlinks", "referring_domains", "follow_referring_domains", "referring_hosts",
    "referring_pages", "linked_pages", "first_seen", "last_seen",
)  # fmt: skip
SUMMARY = """
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
             FROM referring_domains WHERE dst_domain = {domain:String}) AS a
 ON a.src_domain = g.src_domain)
"""
SECTIONS: tuple[tuple[str, Query], ...] = (
    ("summary", Query(SUMMARY, SUMMARY_COLUMNS)),
    ("institutional", Query("SELECT countIf(institutional = 1) AS n FROM " + REFERRING, ("n",))),
    ("authority", Query("SELECT authority, pagerank, harmonic FROM domain_rank "
                        "WHERE domain = {domain:String}", ("authority", "pagerank", "harmonic"))),
    ("top_anchors", Query(
        "SELECT a AS anchor, count() AS backlinks, uniqExact(src_domain) AS referring_domains "
        "FROM backlinks ARRAY JOIN anchors AS a WHERE {where} GROUP BY a "
        "ORDER BY backlinks DESC, referring_domains DESC, anchor LIMIT {top:UInt64}",
        ("anchor", "backlinks", "referring_domains"),
        "backlinks DESC, referring_domains DESC, anchor")),
    ("top_pages", Query(
        "SELECT dst_url, count() AS backlinks, uniqExact(src_domain) AS referring_domains "
        "FROM backlinks WHERE {where} GROUP BY dst_url "
        "ORDER BY referring_domains DESC, backlinks DESC, dst_url LIMIT {top:UInt64}",
        ("dst_url", "backlinks", "referring_domains"),
        "referring_domains DESC, backlinks DESC, dst_url")),
    ("top_referring_domains", Query(
        "SELECT src_domain, authority, backlinks, follow_backlinks FROM " + REFERRING
        + " ORDER BY authority DESC, backlinks DESC, src_domain LIMIT {top:UInt64}",
        ("src_domain", "authority", "backlinks", "follow_backlinks"),
        "authority DESC, backlinks DESC, src_domain")),
    ("tld_mix", Query(
        "SELECT tld, country_code, country, count() AS referring_domains, "
        "sum(backlinks) AS backlinks FROM " + REFERRING
        + " GROUP BY tld, country_code, country ORDER BY referring_domains DESC, tld",
        ("tld", "country_code", "country", "referring_domains", "backlinks"),
        "referring_domains DESC, tld")),
    ("type_mix", Query(
        "SELECT t AS type, count() AS backlinks, uniqExact(src_domain) AS referring_domains "
        "FROM backlinks ARRAY JOIN types AS t WHERE {where} GROUP BY t "
        "ORDER BY backlinks DESC, type",
        ("type", "backlinks", "referring_domains"),
        "backlinks DESC, type")),
)  # fmt: skip
TOP_LISTS = (
    ("Top anchors", "top_anchors"),
    ("Top linked pages", "top_pages"),
    ("Top referring domains", "top_referring_domains"),
    ("TLD mix", "tld_mix"),
    ("Link types", "type_mix"),
)
TEXT_COLUMNS = {
    "top_anchors": ("anchor", "backlinks", "referring_domains"),
    "top_pages": ("dst_url", "backlinks", "referring_domains"),
    "top_referring_domains": ("src_domain", "authority", "backlinks", "follow_backlinks"),
    "tld_mix": ("tld", "country", "referring_domains", "backlinks"),
    "type_mix": ("type", "backlinks", "referring_domains"),
}


def build(client: Client, report: Report, values: Values) -> dict[str, Any]:
    """The profile of `values["target"]` as one document."""
    target = values["target"]
    queries = dict(report.sections)

    def rows(name: str) -> list[dict[str, Any]]:
        sql = report.conditions(queries[name].sql, values)
        parameters = report.parameters(sql, values) | {"domain": target.domain}
        try:
            result = client.query(sql, parameters=parameters)
        except ClickHouseError as exc:
            raise UsageError(f"query failed: {first_line(str(exc))}") from None
        return [dict(zip(result.column_names, row, strict=True)) for row in result.result_rows]

    summary = rows("summary")[0]
    backlinks, domains = summary["backlinks"], summary["referring_domains"]
    institutional = rows("institutional")[0]["n"]
    rank = rows("authority")
    profile: dict[str, Any] = {
        "target": target.value,
        "scope": target.scope,
        "domain": target.domain,
        **summary,
        "follow_ratio": summary["follow_backlinks"] / backlinks if backlinks else 0.0,
        "institutional_referring_domains": institutional,
        "institutional_share": institutional / domains if domains else 0.0,
        "authority": rank[0]["authority"] if rank else 0.0,
    }
    if not backlinks:
        profile["first_seen"] = profile["last_seen"] = None
    for _, name in TOP_LISTS:
        profile[name] = rows(name)
    return profile


def render(profile: dict[str, Any], fmt: str) -> str:
    return as_json(profile) if fmt == "json" else as_text(profile)


def as_json(profile: dict[str, Any]) -> str:
    return json.dumps(_rounded(profile), default=_json_value, ensure_ascii=False) + "\n"


def _rounded(value: Any) -> Any:
    """Authorities to 4 decimals, as every report prints them, not the 17 digits of a double."""
    if isinstance(value, dict):
        return {k: round(v, 4) if k == "authority" else _rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    return value


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return utc_text(value)
    raise TypeError(type(value).__name__)


def utc_text(value: datetime) -> str:
    """A time in UTC as ISO 8601 with "Z", to the millisecond (the index's precision), as
    every read command prints times (ClickHouse's date_time_output_format=iso)."""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.isoformat(timespec="milliseconds") + "Z"


def as_text(p: dict[str, Any]) -> str:
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
        f"  first seen           {_when(p['first_seen'])}; last seen {_when(p['last_seen'])}",
    ]
    for title, key in TOP_LISTS:
        lines += ["", title, *_table(p[key], TEXT_COLUMNS[key])]
    return "\n".join(lines) + "\n"


def _when(value: datetime | None) -> str:
    return utc_text(value) if value is not None else "-"


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


PROFILE = Report(
    "profile",
    "backlink profile of a domain, host or page: counts, follow ratio, top anchors, top "
    "linked pages, top referring domains, TLD mix",
    (
        target(),
        Param("top", COUNT, "rows in each top list (default 10)", default=10),
        Param(
            "type",
            LINK_TYPE,
            "only backlinks with a link of this type (text, image, area, "
            "redirect, canonical, hreflang, frame, form)",
            condition="has(types, {type:String})",
        ),
    ),
    sections=SECTIONS,
    document=build,
    render=render,
    formats=("text", "json"),
)
