"""`linkgraph extract` and `linkgraph robots`: the crawler's own parsers, on local files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from w3lib.encoding import http_content_type_encoding

from crawler import ROBOTS_TOKEN
from crawler.errors import UsageError
from crawler.extraction import extract
from crawler.robots import RobotsPolicy
from crawler.urls import canonicalize


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "extract",
        help="print the links of a local HTML file as if it were served at --url",
        description="Print each link the crawler would record from FILE served at URL, "
        "one JSON object per line: its URL, type (text, image, area, canonical, hreflang, "
        "frame, form), anchor, rel, and the encoding the page was decoded with and what "
        "decided it (bom, http, meta, late meta, utf-8, detected, default).",
    )
    p.add_argument("--url", required=True, help="the URL the file is served at")
    p.add_argument(
        "--content-type",
        metavar="VALUE",
        help="the Content-Type header it is served with; its charset counts "
        "(e.g. 'text/html; charset=windows-1252')",
    )
    p.add_argument(
        "--link-header",
        action="append",
        metavar="VALUE",
        help="a Link header it is served with (canonical and hreflang links); repeatable",
    )
    p.add_argument("file", metavar="FILE")
    p.set_defaults(func=run_extract)
    p = sub.add_parser(
        "robots",
        help="decide URLs against a local robots.txt",
        description="For each URL print whether AGENT may fetch it under ROBOTS_FILE "
        "(RFC 9309), one JSON object per line.",
    )
    p.add_argument(
        "--agent",
        default=ROBOTS_TOKEN,
        metavar="TOKEN",
        help=f"product token to match groups against (default: {ROBOTS_TOKEN})",
    )
    p.add_argument("robots_file", metavar="ROBOTS_FILE")
    p.add_argument("urls", nargs="+", metavar="URL")
    p.set_defaults(func=run_robots)


def _read(path: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def _url(text: str) -> str:
    url = canonicalize(text)
    if url is None:
        raise UsageError(f"{text!r} is not an absolute http(s) URL")
    return url


def run_extract(args: argparse.Namespace) -> int:
    page = extract(
        _read(args.file),
        _url(args.url),
        encoding=http_content_type_encoding(args.content_type) if args.content_type else None,
        link_header=args.link_header,
    )
    out = sys.stdout
    for link in page.links:
        record = {
            "url": link.url,
            "type": link.type,
            "anchor": link.anchor,
            "rel": sorted(link.rel),
            "tag": link.tag,
            "nofollow": link.nofollow,
            "ugc": link.ugc,
            "sponsored": link.sponsored,
            "page_nofollow": page.nofollow,
            "encoding": page.encoding,
            "encoding_source": page.encoding_source,
        }
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


def run_robots(args: argparse.Namespace) -> int:
    policy = RobotsPolicy.from_fetch(200, _read(args.robots_file))
    urls = [_url(u) for u in args.urls]
    for url in urls:
        record = {"url": url, "agent": args.agent, "allowed": policy.allowed(url, args.agent)}
        sys.stdout.write(json.dumps(record) + "\n")
    return 0
