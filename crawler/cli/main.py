"""The `linkgraph` command: argument parsing and the one-line error contract."""

from __future__ import annotations

import argparse
import sys

from crawler import __version__
from crawler.errors import UsageError


def build_parser() -> argparse.ArgumentParser:
    from crawler.cli import crawl, demo, jobs, linkindex, query, tools

    parser = argparse.ArgumentParser(
        prog="linkgraph",
        description="Crawl the web politely and query its inbound-link index with SQL.",
    )
    parser.add_argument("--version", action="version", version=f"linkgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    crawl.add_parser(sub)
    jobs.add_parsers(sub)
    query.add_parsers(sub)
    tools.add_parsers(sub)
    demo.add_parser(sub)
    linkindex.add_parsers(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except UsageError as exc:
        print(f"linkgraph: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("linkgraph: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `linkgraph sql ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
