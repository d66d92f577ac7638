"""`linkgraph warc URL` (a page's archived response) and `linkgraph ingest-warc FILE...` (the
index built from WARC files, ours or anyone's, without fetching)."""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from pathlib import Path

from crawler import settings as defaults
from crawler.cli.common import add_storage, job_name, positive_int, storage_target
from crawler.errors import UsageError
from crawler.storage import connect
from crawler.urls import canonicalize
from crawler.warc.http import Fetched
from crawler.warc.reader import read_record_at


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "warc",
        help="print a page's archived response, from the WARC file the index points at",
        description="Print the HTTP response archived for URL (its latest fetch, or the one of "
        "--job) as stored: status line, headers and the body with its Content-Encoding.",
    )
    p.add_argument("url", metavar="URL")
    p.add_argument("--job", type=job_name, help="the fetch of this job (default: any)")
    add_storage(p)
    p.set_defaults(func=run_warc)
    p = sub.add_parser(
        "ingest-warc",
        help="build the link index from WARC files, without fetching",
        description="Read WARC files (ours, other tools', Common Crawl's) and store each "
        "response's page and links as a crawl would, under --job. A run interrupted is "
        "resumed by running it again: files already stored are skipped.",
    )
    p.add_argument("files", nargs="+", metavar="FILE_OR_GLOB")
    p.add_argument("--job", type=job_name, default="ingest", help="job name of the rows "
                   "(default: ingest)")  # fmt: skip
    p.add_argument(
        "--processes",
        type=positive_int,
        default=os.cpu_count() or 1,
        help="files read at once, one process each (default: the number of CPUs)",
    )
    p.add_argument(
        "--max-record-bytes",
        type=positive_int,
        default=defaults.DOWNLOAD_MAXSIZE,
        help=f"larger records are skipped (default: {defaults.DOWNLOAD_MAXSIZE}, the crawl's "
        "DOWNLOAD_MAXSIZE)",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    add_storage(p)
    p.set_defaults(func=run_ingest)


def expand(patterns: list[str]) -> list[Path]:
    """Files named or matched, each once, in order; a pattern matching nothing is an error."""
    found: dict[Path, None] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matches = [m for m in matches if Path(m).is_file()]
        if not matches:
            raise UsageError(f"no WARC file at {pattern!r}")
        found.update((Path(m).resolve(), None) for m in matches)
    return list(found)


def run_ingest(args: argparse.Namespace) -> int:
    # Not at the top: extraction imports Twisted's reactor, which `crawl` must install first.
    from crawler.warc.coordinator import ingest

    paths = expand(args.files)
    ingest(
        paths,
        args.job,
        storage_target(args),
        processes=args.processes,
        max_record_bytes=args.max_record_bytes,
        state_path=args.data_dir / "ingest" / f"{args.job}.jsonl",
        progress_seconds=0 if args.quiet else defaults.LINKGRAPH_PROGRESS_SECONDS,
    )
    return 0


def run_warc(args: argparse.Namespace) -> int:
    url = canonicalize(args.url)
    if url is None:
        raise UsageError(f"{args.url!r} is not an absolute http(s) URL")
    client = connect(storage_target(args))
    try:
        where = "url = {url:String} AND warc_file != ''"
        if args.job:
            where += " AND job = {job:String}"
        rows = client.query(
            f"SELECT warc_file, warc_offset FROM pages WHERE {where} "
            "ORDER BY fetched_at DESC LIMIT 1",
            parameters={"url": url, "job": args.job or ""},
        ).result_rows
        if not rows:
            raise UsageError(f"no archived fetch of {url} in the index")
        path = Path(rows[0][0])
        record = _read(path, int(rows[0][1]))
        payload = record.body
        if record.kind == "revisit":
            payload = _original(client, record, path).body
    finally:
        client.close()
    out = sys.stdout.buffer
    out.write(record.head + payload)
    out.flush()
    return 0


def _read(path: Path, offset: int) -> Fetched:
    try:
        record = read_record_at(path, offset, 1 << 40)
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    if not isinstance(record, Fetched):
        raise UsageError(f"no response record at offset {offset} of {path}")
    return record


def _original(client: object, revisit: Fetched, path: Path) -> Fetched:
    """The response a revisit refers to: a fetch of its target URI, by record ID."""
    target = revisit.fields.get("WARC-Refers-To-Target-URI", "")
    wanted = revisit.fields.get("WARC-Refers-To", "")
    rows = client.query(  # type: ignore[attr-defined]
        "SELECT DISTINCT warc_file, warc_offset FROM pages WHERE url = {url:String} "
        "AND warc_file != ''",
        parameters={"url": canonicalize(target) or target},
    ).result_rows
    places = [(Path(path), int(offset)) for path, offset in rows]
    # robots.txt is archived but is no page: the CDXJ indexes beside the file list it
    digest = revisit.fields.get("WARC-Payload-Digest", "")
    places += _indexed(path.parent, digest)
    for path, offset in places:
        record = _read(path, offset)
        if record.kind == "response" and (not wanted or record.record_id == wanted):
            return record
    raise UsageError(f"the original of this revisit ({target}) is not in the index")


def _indexed(directory: Path, digest: str) -> list[tuple[Path, int]]:
    """Responses with this payload digest in the CDXJ files of a WARC directory."""
    found = []
    for index in sorted(directory.glob("*.cdxj")):
        for line in index.read_text().splitlines():
            if digest not in line:
                continue
            fields = json.loads(line.split(" ", 2)[2])
            if fields.get("digest") == digest and fields.get("mime") != "warc/revisit":
                found.append((directory / fields["filename"], int(fields["offset"])))
    return found
