"""`linkgraph demo`: serve the bundled demo web on loopback, crawl it, print the backlink index."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

from crawler.cli.common import non_negative_float
from crawler.cli.crawl import print_summary
from crawler.demo.demoweb import demo_web
from crawler.demo.server import LocalWebServer, write_hosts_file
from crawler.errors import UsageError
from crawler.reports import run_report
from crawler.resolver import read_hosts_file
from crawler.run import ProcessOptions, run_crawl
from crawler.storage import StorageTarget, connect, run_query

DEFAULT_DIR = Path("linkgraph-data") / "demo"
# Written into every data dir the demo makes; the demo clears no other directory.
MARKER = ".linkgraph-demo"
MARKER_TEXT = "made by `linkgraph demo`, which deletes this directory when it runs again\n"


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="crawl the bundled demo web on 127.0.0.1 and print its backlink index",
        description="Serve a generated web of many hosts on 127.0.0.1, crawl it with the "
        "embedded Redis and ClickHouse, and print the top domains and a backlink sample. "
        "The demo's data directory is recreated on every run; a directory the demo did "
        "not make is refused, never cleared.",
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DIR,
        help=f"where the demo index is kept (default: {DEFAULT_DIR})",
    )
    p.add_argument("--hosts", type=int, default=60, help="host names in the demo web (>= 2)")
    p.add_argument("--pages", type=int, default=1200, help="pages in the demo web")
    p.add_argument(
        "--delay",
        type=non_negative_float,
        default=0.05,
        metavar="S",
        help="seconds between requests to one host (default 0.05)",
    )
    p.set_defaults(func=run)


def _fresh(directory: Path) -> None:
    """Make `directory` an empty demo data dir. Only a directory the demo made itself (its
    MARKER file says so) is cleared: a real crawl's data dir holds the same `redis` and
    `clickhouse` as a demo's, so names alone cannot tell them apart."""
    if directory.is_dir() and any(directory.iterdir()):
        if not (directory / MARKER).is_file():
            raise UsageError(
                f"{directory} was not made by `linkgraph demo` (it has no {MARKER} file) and "
                "the demo clears its data dir: choose another --data-dir"
            )
        shutil.rmtree(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MARKER).write_text(MARKER_TEXT, encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot create the demo data dir {directory}: {exc.strerror}") from None


def run(args: argparse.Namespace) -> int:
    if args.hosts < 2 or args.pages < args.hosts:
        raise UsageError("the demo web needs --hosts >= 2 and --pages >= --hosts")
    _fresh(args.data_dir)
    web = demo_web(hosts=args.hosts, pages=args.pages)
    hosts_file = args.data_dir / "hosts"
    storage = StorageTarget("", args.data_dir)
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        print(
            f"Serving the demo web ({len(web.hosts())} hosts) on 127.0.0.1:{server.port}; "
            "crawling it...",
            file=sys.stderr,
        )
        given = {
            "LINKGRAPH_DELAY": args.delay,
            "LINKGRAPH_HOSTS": read_hosts_file(hosts_file),
            "LINKGRAPH_ALLOW_PRIVATE": True,  # the demo web lives on loopback
        }
        process = ProcessOptions(data_dir=args.data_dir)
        result = run_crawl("demo", process, given, web.seeds(server.port))
    print_summary(result)
    client = connect(storage)
    out = sys.stdout
    out.write("\nTop domains by referring domains:\n")
    top = run_report(client, "top", {"limit": 10}, "PrettyCompact")
    out.write(top.decode() if isinstance(top, bytes) else "")
    out.write("\nA sample of backlinks:\n")
    out.write(
        run_query(
            client,
            "SELECT src_url, dst_url, anchor, follow FROM backlinks "
            "ORDER BY cityHash64(src_url, dst_url) LIMIT 10",
            "PrettyCompact",
        ).decode()
    )
    # name the command as it was run, so the hint works as printed (e.g. .venv/bin/linkgraph)
    prog = sys.argv[0] if sys.argv[0].endswith("linkgraph") else "linkgraph"
    prog = os.path.relpath(prog) if os.path.isabs(prog) else prog
    out.write(
        f"\nQuery it yourself:\n  {prog} top --data-dir {args.data_dir}\n"
        f"  {prog} sql --data-dir {args.data_dir} 'SELECT * FROM domain_inbound'\n"
    )
    return 0 if result.finish_reason == "finished" else 1
