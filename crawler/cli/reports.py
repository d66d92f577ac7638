"""Reports over the link-index views: top pages, outbound links, broken backlinks, referring
domains by TLD or public suffix, and link intersect."""

from __future__ import annotations

import argparse

from crawler.cli.common import non_negative_int
from crawler.cli.filters import bind, domain_arg, literal, target_filter
from crawler.cli.query import add_output, emit
from crawler.errors import UsageError

TOP_PAGES_SQL = (
    "SELECT dst_url, backlinks, referring_domains, follow_backlinks, first_seen, last_seen "
    "FROM top_pages WHERE {where} "
    "ORDER BY referring_domains DESC, backlinks DESC, dst_url LIMIT {limit}"
)
OUTLINKS_SQL = (
    "SELECT src_url, dst_url, anchor, follow, first_seen, last_seen FROM outlinks "
    "WHERE src_domain = {domain} ORDER BY dst_domain, dst_url, src_url LIMIT {limit}"
)
LINKED_DOMAINS_SQL = (
    "SELECT dst_domain, links, follow_links, linking_pages, linked_pages, first_seen, last_seen "
    "FROM linked_domains WHERE src_domain = {domain} "
    "ORDER BY links DESC, dst_domain LIMIT {limit}"
)
BROKEN_SQL = (
    "SELECT dst_url, status, error, src_url, anchor, follow, checked_at FROM broken_backlinks "
    "WHERE {where} ORDER BY dst_url, src_url LIMIT {limit}"
)
BY_TLD_SQL = (
    "SELECT tld, country_code, country, referring_domains, backlinks, "
    "institutional_referring_domains FROM refdomains_by_tld WHERE dst_domain = {domain} "
    "ORDER BY referring_domains DESC, tld LIMIT {limit}"
)
BY_SUFFIX_SQL = (
    "SELECT suffix, tld, country_code, country, institutional, referring_domains, backlinks "
    "FROM refdomains_by_suffix WHERE dst_domain = {domain} "
    "ORDER BY referring_domains DESC, suffix LIMIT {limit}"
)
INTERSECT_SQL = (
    "SELECT src_domain, competitors_linked, competitors, backlinks, follow_backlinks "
    "FROM link_intersect(target = {target}, competitors = [{competitors}], min_count = {k}) "
    "ORDER BY competitors_linked DESC, backlinks DESC, src_domain LIMIT {limit}"
)


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = _parser(sub, "top-pages", "pages of a domain (or host) by the backlinks they receive")
    p.add_argument("target", metavar="DOMAIN", help="a registered domain, or a host name")
    p.set_defaults(func=run_top_pages)
    p = _parser(sub, "outlinks", "outbound cross-domain links of a domain")
    p.add_argument("domain", type=str, metavar="DOMAIN", help="a registered domain")
    p.add_argument("--by-domain", action="store_true", help="one row per linked domain")
    p.set_defaults(func=run_outlinks)
    p = _parser(
        sub,
        "broken",
        "broken backlinks: backlinks whose target answered 4xx/5xx or could not be fetched",
    )
    p.add_argument("target", metavar="TARGET", help="a registered domain, host name or URL")
    p.set_defaults(func=run_broken)
    p = _parser(sub, "tlds", "referring domains of a domain by TLD, with their country")
    p.add_argument("domain", metavar="DOMAIN", help="a registered domain")
    p.add_argument("--by-suffix", action="store_true", help="by public suffix (co.uk, ac.uk)")
    p.set_defaults(func=run_tlds)
    p = _parser(
        sub,
        "intersect",
        "link intersect: domains linking to at least K competitors but not to the target",
    )
    p.add_argument("target", metavar="TARGET", help="your registered domain")
    p.add_argument("competitors", nargs="+", metavar="COMPETITOR", help="competitors' domains")
    p.add_argument(
        "--min",
        dest="min_count",
        type=non_negative_int,
        default=1,
        metavar="K",
        help="link to at least K of the competitors (default 1)",
    )
    p.set_defaults(func=run_intersect)


def _parser(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, text: str
) -> argparse.ArgumentParser:
    p = sub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
    add_output(p)
    return p


def run_top_pages(args: argparse.Namespace) -> int:
    where, params = target_filter(args.target)
    if where.startswith("dst_url"):
        raise UsageError("top-pages ranks the pages of a domain or host: give one, not a URL")
    return emit(args, TOP_PAGES_SQL.format(where=bind(where, params), limit=args.limit))


def run_outlinks(args: argparse.Namespace) -> int:
    sql = LINKED_DOMAINS_SQL if args.by_domain else OUTLINKS_SQL
    domain = literal(domain_arg(args.domain))
    return emit(args, sql.format(domain=domain, limit=args.limit))


def run_broken(args: argparse.Namespace) -> int:
    where, params = target_filter(args.target)
    return emit(args, BROKEN_SQL.format(where=bind(where, params), limit=args.limit))


def run_tlds(args: argparse.Namespace) -> int:
    sql = BY_SUFFIX_SQL if args.by_suffix else BY_TLD_SQL
    return emit(args, sql.format(domain=literal(domain_arg(args.domain)), limit=args.limit))


def run_intersect(args: argparse.Namespace) -> int:
    target = domain_arg(args.target)
    competitors = list(dict.fromkeys(domain_arg(c) for c in args.competitors))
    if target in competitors:
        raise UsageError(f"{target} is the target: it cannot be a competitor too")
    if not 1 <= args.min_count <= len(competitors):
        raise UsageError(f"--min must be between 1 and the {len(competitors)} competitors given")
    sql = INTERSECT_SQL.format(
        target=literal(target),
        competitors=", ".join(literal(c) for c in competitors),
        k=args.min_count,
        limit=args.limit,
    )
    return emit(args, sql)
