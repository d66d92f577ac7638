"""Every report over the index, declared once. The `linkgraph` subcommands, their --help, the
table of reports in docs/sql.md and the tests' list of reports are all derived from `REPORTS`.

To add a report, declare it here (or in a module of this package, added to `REPORTS`), give it
a test against the test web's ground truth in tests/test_reports.py, and regenerate the docs
table with `python -m crawler.reports.docs`.
"""

from __future__ import annotations

from crawler.reports.history import HISTORY
from crawler.reports.model import Param, Query, Report
from crawler.reports.params import (
    SINCE,
    backlink_filters,
    check_changes,
    check_intersect,
    domain,
    target,
)
from crawler.reports.profile import PROFILE
from crawler.reports.values import COUNT, DATE, DOMAIN, FLAG, TEXT

BACKLINKS = Report(
    "backlinks",
    "backlinks of a domain, host or page: source page, target page, anchor, follow, link types",
    (target(), *backlink_filters(grouped=False)),
    Query(
        "SELECT src_url, dst_url, anchor, follow, types, first_seen, last_seen FROM backlinks "
        "WHERE {where}",
        ("src_url", "dst_url", "anchor", "follow", "types", "first_seen", "last_seen"),
        "follow DESC, src_domain, src_url, dst_url",
    ),
)
REFDOMAINS = Report(
    "refdomains",
    "referring domains of a domain, with their backlink counts and authority",
    (target(), *backlink_filters(grouped=True)),
    Query(
        "SELECT b.src_domain AS src_domain, b.backlinks AS backlinks, "
        "b.follow_backlinks AS follow_backlinks, b.linked_pages AS linked_pages, "
        "round(r.authority, 4) AS authority, b.first_seen AS first_seen, "
        "b.last_seen AS last_seen "
        "FROM (SELECT src_domain, count() AS backlinks, countIf(follow = 1) AS follow_backlinks, "
        "uniqExact(dst_url) AS linked_pages, min(first_seen) AS first_seen, "
        "max(last_seen) AS last_seen FROM backlinks WHERE {where} GROUP BY src_domain "
        "HAVING {having}) AS b LEFT JOIN domain_rank AS r ON r.domain = b.src_domain",
        (
            "src_domain",
            "backlinks",
            "follow_backlinks",
            "linked_pages",
            "authority",
            "first_seen",
            "last_seen",
        ),
        "backlinks DESC, src_domain",
    ),
)
ANCHORS = Report(
    "anchors",
    "anchor texts of the backlinks of a domain",
    (domain(),),
    Query(
        "SELECT anchor, backlinks, referring_domains, follow_backlinks FROM anchors "
        "WHERE dst_domain = {domain:String}",
        ("anchor", "backlinks", "referring_domains", "follow_backlinks"),
        "backlinks DESC, anchor",
    ),
)
TOP = Report(
    "top",
    "domains with the most referring domains",
    (),
    Query(
        "SELECT dst_domain AS domain, referring_domains, backlinks, follow_backlinks, "
        "nofollow_backlinks FROM domain_inbound",
        ("domain", "referring_domains", "backlinks", "follow_backlinks", "nofollow_backlinks"),
        "referring_domains DESC, backlinks DESC, domain",
    ),
)
TOP_PAGES = Report(
    "top-pages",
    "pages of a domain (or host) by the backlinks they receive",
    (target(("domain", "host")),),
    Query(
        "SELECT dst_url, backlinks, referring_domains, follow_backlinks, first_seen, last_seen "
        "FROM top_pages WHERE {where}",
        (
            "dst_url",
            "backlinks",
            "referring_domains",
            "follow_backlinks",
            "first_seen",
            "last_seen",
        ),
        "referring_domains DESC, backlinks DESC, dst_url",
    ),
)
OUTLINKS = Report(
    "outlinks",
    "outbound cross-domain links of a domain",
    (domain(), Param("by_domain", FLAG, "one row per linked domain")),
    Query(
        "SELECT src_url, dst_url, anchor, follow, first_seen, last_seen FROM outlinks "
        "WHERE src_domain = {domain:String}",
        ("src_url", "dst_url", "anchor", "follow", "first_seen", "last_seen"),
        "dst_domain, dst_url, src_url",
    ),
    variants=(
        (
            "by_domain",
            Query(
                "SELECT dst_domain, links, follow_links, linking_pages, linked_pages, "
                "first_seen, last_seen FROM linked_domains WHERE src_domain = {domain:String}",
                (
                    "dst_domain",
                    "links",
                    "follow_links",
                    "linking_pages",
                    "linked_pages",
                    "first_seen",
                    "last_seen",
                ),
                "links DESC, dst_domain",
            ),
        ),
    ),
)
BROKEN = Report(
    "broken",
    "broken backlinks: backlinks whose target answered 4xx/5xx or could not be fetched; "
    "state says gone (404, 410, no such host name) or unreachable (after the retries)",
    (target(),),
    Query(
        "SELECT dst_url, state, status, error, src_url, anchor, follow, checked_at "
        "FROM broken_backlinks WHERE {where}",
        ("dst_url", "state", "status", "error", "src_url", "anchor", "follow", "checked_at"),
        "dst_url, src_url",
    ),
)
TLDS = Report(
    "tlds",
    "referring domains of a domain by TLD, with their country",
    (domain(), Param("by_suffix", FLAG, "by public suffix (co.uk, ac.uk)")),
    Query(
        "SELECT tld, country_code, country, referring_domains, backlinks, "
        "institutional_referring_domains FROM refdomains_by_tld "
        "WHERE dst_domain = {domain:String}",
        (
            "tld",
            "country_code",
            "country",
            "referring_domains",
            "backlinks",
            "institutional_referring_domains",
        ),
        "referring_domains DESC, tld",
    ),
    variants=(
        (
            "by_suffix",
            Query(
                "SELECT suffix, tld, country_code, country, institutional, referring_domains, "
                "backlinks FROM refdomains_by_suffix WHERE dst_domain = {domain:String}",
                (
                    "suffix",
                    "tld",
                    "country_code",
                    "country",
                    "institutional",
                    "referring_domains",
                    "backlinks",
                ),
                "referring_domains DESC, suffix",
            ),
        ),
    ),
)
INTERSECT = Report(
    "intersect",
    "link intersect: domains linking to at least K competitors but not to the target",
    (
        domain("your registered domain"),
        Param(
            "competitors",
            DOMAIN,
            "competitors' domains",
            positional=True,
            many=True,
            required=True,
            metavar="COMPETITOR",
        ),
        Param(
            "min",
            COUNT,
            "link to at least K of the competitors (default 1)",
            default=1,
            metavar="K",
        ),
    ),
    Query(
        "SELECT src_domain, competitors_linked, competitors, backlinks, follow_backlinks "
        "FROM link_intersect(target = {domain:String}, "
        "competitors = {competitors:Array(String)}, min_count = {min:UInt32})",
        ("src_domain", "competitors_linked", "competitors", "backlinks", "follow_backlinks"),
        "competitors_linked DESC, backlinks DESC, src_domain",
    ),
    check=check_intersect,
)
CHANGES = Report(
    "changes",
    "backlinks a domain, host or page gained and lost since a date, newest first",
    (
        target(),
        Param(
            "since",
            DATE,
            "changes at or after DATE (YYYY-MM-DD or an ISO date-time, UTC)",
            required=True,
            condition=f"at >= {SINCE}",
        ),
        Param("until", DATE, "changes before DATE", condition="at < {until:DateTime64(3, 'UTC')}"),
        Param("new", FLAG, "only backlinks gained", condition="change = 'new'", exclusive="change"),
        Param("lost", FLAG, "only backlinks lost", condition="change = 'lost'", exclusive="change"),
    ),
    # the conditions name the aliases `change` and `at`, which both halves define
    Query(
        "SELECT change, at, src_url, dst_url, anchor, follow, reason, detail FROM (\n"
        "    SELECT 'new' AS change, seen_at AS at, src_url, dst_url, anchor, follow,\n"
        "           '' AS reason, '' AS detail\n"
        "    FROM new_links WHERE src_domain != dst_domain AND {where}\n"
        "    UNION ALL\n"
        "    SELECT 'lost' AS change, lost_at AS at, src_url, dst_url, anchor, follow, reason,\n"
        "           detail\n"
        "    FROM lost_links WHERE src_domain != dst_domain AND {where}\n"
        ")",
        ("change", "at", "src_url", "dst_url", "anchor", "follow", "reason", "detail"),
        "at DESC, change, src_url, dst_url",
    ),
    check=check_changes,
)
REFDOMAIN_CHANGES = Report(
    "refdomain-changes",
    "referring domains a domain gained and lost since a date, newest first, with the job "
    "(crawl or re-crawl) that saw each change",
    (
        domain(),
        Param(
            "since",
            DATE,
            "changes at or after DATE (YYYY-MM-DD or an ISO date-time, UTC)",
            required=True,
            condition=f"at >= {SINCE}",
        ),
        Param("until", DATE, "changes before DATE", condition="at < {until:DateTime64(3, 'UTC')}"),
        Param("new", FLAG, "only domains gained", condition="change = 'new'", exclusive="change"),
        Param("lost", FLAG, "only domains lost", condition="change = 'lost'", exclusive="change"),
        Param("job", TEXT, "only this job's", condition="job = {job:String}", metavar="JOB"),
    ),
    Query(
        "SELECT change, at, src_domain, backlinks, reasons, job FROM refdomain_changes "
        "WHERE dst_domain = {domain:String} AND {where}",
        ("change", "at", "src_domain", "backlinks", "reasons", "job"),
        "at DESC, change, src_domain",
    ),
    check=check_changes,
)
REPORTS: dict[str, Report] = {
    r.name: r
    for r in (BACKLINKS, REFDOMAINS, ANCHORS, TOP, PROFILE, TOP_PAGES, OUTLINKS, BROKEN, TLDS,
              INTERSECT, CHANGES, HISTORY, REFDOMAIN_CHANGES)
}  # fmt: skip
