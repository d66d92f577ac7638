"""The `linkgraph` command: argument parsing and the one-line error contract."""

from __future__ import annotations

import argparse
import logging
import sys

from crawler import __version__
from crawler.errors import UsageError
from crawler.frontier.connection import RedisUnreachable


def build_parser() -> argparse.ArgumentParser:
    """Every subcommand, registered here and nowhere else."""
    from crawler.cli import (
        crawl,
        demo,
        export,
        history,
        jobs,
        migrate,
        query,
        rank,
        reports,
        serve,
        tools,
        warc,
    )

    parser = argparse.ArgumentParser(
        prog="linkgraph",
        description="Crawl the web politely and query its inbound-link index with SQL.",
    )
    parser.add_argument("--version", action="version", version=f"linkgraph {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    crawl.add_parser(sub)  # crawl
    jobs.add_parsers(sub)  # the job commands
    history.add_parsers(sub)  # recrawl
    query.add_parser(sub)  # sql
    reports.add_parsers(sub)  # one per report in crawler/reports (backlinks, profile, ...)
    export.add_parsers(sub)  # export, disavow
    rank.add_parser(sub)  # rank
    tools.add_parsers(sub)  # extract, robots
    warc.add_parsers(sub)  # warc, ingest-warc
    demo.add_parser(sub)  # demo
    migrate.add_parser(sub)  # migrate
    serve.add_parser(sub)  # serve
    return parser


def say(line: str) -> None:
    """One line on stderr in one write: the workers of a job share the terminal, and print()'s
    separate newline lets their lines run together."""
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # The ClickHouse driver logs each failed request itself; linkgraph reports it as one line.
    logging.getLogger("clickhouse_connect").setLevel(logging.CRITICAL)
    try:
        return int(args.func(args))
    except UsageError as exc:
        say(f"linkgraph: error: {exc}")
        return 2
    except RedisUnreachable as exc:  # a crawl's frontier went away for good
        resume = f"; resume with {exc.resume}" if exc.resume else ""
        say(f"linkgraph: error: {exc}{resume}")
        return 1
    except KeyboardInterrupt:
        say("linkgraph: interrupted")
        return 130
    except BrokenPipeError:  # `linkgraph sql ... | head`
        return 0


if __name__ == "__main__":
    sys.exit(main())
