"""`linkgraph ingest-warc`: the index built from WARC files equals the crawl's, and files nobody
here wrote give the links an independent reading of them gives.

Independent: the expected links of other tools' files are computed here with warcio (its own
decoding) and the standard library's HTML parser and URL joining, not with linkgraph's code.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from html.parser import HTMLParser
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit, urlunsplit

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.demo.server import LocalWebServer
from crawler.demo.web import write_hosts_file
from crawler.warc.reader import http_records
from tests.conftest import RETRY_BACKOFF, query, run_linkgraph
from tests.test_warc import ENC, Archived, crawl_with_warc, encoded_web, pywb  # noqa: F401
from tests.testweb import build_test_web

PAGE_COLUMNS = (
    "url, host, domain, status, content_type, bytes, depth, fetched_at, title, canonical, "
    "noindex, nofollow, error, location, links, warc_file, warc_offset"
)


def ingest(data: Path, *files: str, job: str = "crawl", extra: tuple[str, ...] = ()) -> str:
    proc = run_linkgraph("ingest-warc", "--job", job, "--data-dir", str(data), "-q", *extra,
                         *files)  # fmt: skip
    return proc.stdout


def last_fetches(data: Path, where: str = "status > 0") -> list[tuple[Any, ...]]:
    """Each URL's last fetch (a crawl records a retried 5xx once, its archive every time)."""
    return query(
        data,
        f"SELECT url, argMax(tuple({PAGE_COLUMNS}), fetched_at) FROM pages WHERE {where} "
        "GROUP BY url ORDER BY url",
    )


def table(data: Path, name: str) -> list[tuple[Any, ...]]:
    return query(data, f"SELECT * EXCEPT job FROM {name} ORDER BY ALL")


@pytest.fixture(scope="module")
def test_web_crawl(tmp_path_factory: pytest.TempPathFactory) -> tuple[Archived, int]:
    """The test web crawled with --warc by two processes; and how many fetches were retries."""
    tmp = tmp_path_factory.mktemp("roundtrip")
    web = build_test_web()
    hosts_file = tmp / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph(
            "crawl", *web.seeds(server.port), "--job", "crawl", "--data-dir", str(tmp / "data"),
            "--hosts-file", str(hosts_file), "--allow-private", "--delay", "0", "-q",
            "--workers", "2", "--warc", str(tmp / "warc"),
            "-s", f"LINKGRAPH_RETRY_BACKOFF={RETRY_BACKOFF}",
            "-s", "LINKGRAPH_WARC_MAX_BYTES=20000",  # many files: revisits refer across them
        )  # fmt: skip
        log = server.requests()
    robots = web.robots_paths()
    fetches = Counter((e.host, e.path) for e in log if (e.host, e.path) not in robots)
    retries = sum(n - 1 for n in fetches.values())
    return Archived(tmp / "data", tmp / "warc", server.port, log, web), retries


def test_ingesting_a_crawls_warcs_rebuilds_its_index(
    test_web_crawl: tuple[Archived, int], tmp_path: Path
) -> None:
    crawl, retries = test_web_crawl
    files = [str(p) for p in crawl.files()]
    assert len(files) >= 5
    file_of, refers = {}, []
    for path in files:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                file_of[record.rec_headers.get_header("WARC-Record-ID")] = path
                if record.rec_type == "revisit":
                    refers.append((path, record.rec_headers.get_header("WARC-Refers-To")))
    assert any(file_of[original] != path for path, original in refers)  # resolved at the end
    out = ingest(tmp_path, *files)
    assert f"ingest-warc job crawl: {len(files)} files read (0 done before)" in out
    assert retries == 3  # the test web's 5xx page: fetched 1 + 3 times, archived each time
    assert last_fetches(tmp_path) == last_fetches(crawl.data)
    crawled = query(crawl.data, "SELECT count() FROM pages WHERE status > 0")[0][0]
    assert query(tmp_path, "SELECT count() FROM pages")[0][0] == crawled + retries
    assert table(tmp_path, "links") == table(crawl.data, "links")
    assert table(tmp_path, "domain_inbound") == table(crawl.data, "domain_inbound")
    assert len(table(crawl.data, "domain_inbound")) > 10


def test_gzip_br_and_revisited_pages_ingest_as_they_were_crawled(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    tmp = tmp_path_factory.mktemp("encoded")
    crawl = crawl_with_warc(tmp, encoded_web(), [f"http://{ENC}:{{port}}/"])
    ingest(tmp / "ingested", *[str(p) for p in crawl.files()], job="archive")
    assert last_fetches(tmp / "ingested") == last_fetches(crawl.data)
    assert table(tmp / "ingested", "links") == table(crawl.data, "links")
    titles = dict(query(tmp / "ingested", "SELECT url, title FROM pages"))
    assert titles[crawl.url(ENC, "/br")] == "Brotli"  # decoded whatever warcio's brotli does
    assert titles[crawl.url(ENC, "/gzip")] == "Gzip"


def test_a_file_is_never_counted_twice(
    test_web_crawl: tuple[Archived, int], tmp_path: Path
) -> None:
    crawl, _ = test_web_crawl
    files = [str(p) for p in crawl.files()]
    ingest(tmp_path, *files)
    before = (table(tmp_path, "pages"), table(tmp_path, "links"))
    out = ingest(tmp_path, *files)  # a second run: every file is done
    assert f"{len(files)} files read" not in out and f"({len(files)} done before)" in out
    # A run interrupted after storing a file's rows but before noting it done: read again,
    # the same batches carry the same tokens, and are stored once.
    (tmp_path / "ingest" / "crawl.jsonl").unlink()
    out = ingest(tmp_path, *files)
    assert f"{len(files)} files read (0 done before)" in out
    assert (table(tmp_path, "pages"), table(tmp_path, "links")) == before


def http_record(writer: WARCWriter, url: str, block: bytes) -> Any:
    return writer.create_warc_record(
        url,
        "response",
        payload=BytesIO(block),
        length=len(block),
        warc_content_type="application/http; msgtype=response",
        warc_headers_dict={"WARC-Date": "2024-01-02T03:04:05Z"},
    )


def page(title: str, *hrefs: str) -> bytes:
    body = f"<title>{title}</title>" + "".join(f"<a href={h}>{h}</a>" for h in hrefs)
    head = f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {len(body)}\r\n\r\n"
    return (head + body).encode()


def test_bad_records_are_reported_in_one_line_each_and_ingestion_goes_on(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good.warc.gz"
    with good.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        records = [
            ("http://a.example/", page("A", "http://b.example/x")),
            ("dns:a.example", b"20240102030405\na.example. 300 IN A 192.0.2.1\n"),
            ("http://broken.example/", b"HTTP/1.1 OK fine\r\nServer: x\r\n\r\nbody"),
            ("http://huge.example/", page("Huge", "http://c.example/") + b" " * 5000),
            ("http://b.example/x", page("B", "/y", "http://a.example/")),
            ("http://c.example/", page("C", "http://a.example/")),
        ]
        for url, block in records:
            if url.startswith("dns:"):
                record = writer.create_warc_record(url, "response", payload=BytesIO(block),
                                                   length=len(block),
                                                   warc_content_type="text/dns")  # fmt: skip
            else:
                record = http_record(writer, url, block)
            writer.write_record(record)
    data = good.read_bytes()
    members = [m for m in range(len(data)) if data.startswith(b"\x1f\x8b\x08", m)]
    # a copy whose fourth member (the huge record) has its gzip header wiped out
    damaged = tmp_path / "damaged.warc.gz"
    damaged.write_bytes(data[: members[3]] + bytes(10) + data[members[3] + 10 :])
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(data[: members[5] + 50])
    missing = tmp_path / "not-a-warc.txt"
    missing.write_text("hello\n")
    out = ingest(tmp_path / "data", str(good), str(damaged), str(truncated), str(missing),
                 extra=("--max-record-bytes", "4000"))  # fmt: skip
    assert out.splitlines()[0].startswith("ingest-warc job crawl: 4 files read (0 done before), "
                                          "8 records: 8 pages, 11 links in ")  # fmt: skip
    listed = sorted(line.strip() for line in out.splitlines() if "@" in line)
    huge = len(records[3][1])
    expected = [
        *(f"{name}@{members[1]} dns:a.example: not an HTTP record: dns"
          for name in ("good.warc.gz", "damaged.warc.gz", "truncated.warc.gz")),
        *(f"{name}@{members[2]} http://broken.example/: broken HTTP: bad status code 'OK'"
          for name in ("good.warc.gz", "damaged.warc.gz", "truncated.warc.gz")),
        *(f"{name}@{members[3]} http://huge.example/: record over the size limit: "
          f"{huge} > 4000 bytes" for name in ("good.warc.gz", "truncated.warc.gz")),
        f"damaged.warc.gz@{members[3]} -: unreadable record: Invalid WARC record, first line: ",
        f"truncated.warc.gz@{members[5]} -: truncated file: 50 bytes left unread",
        "not-a-warc.txt@0 -: unreadable record: Unknown archive format, first line: ['hello']; "
        "nothing after it",
    ]  # fmt: skip
    damaged_line = next(
        line for line in listed if line.startswith(f"damaged.warc.gz@{members[3]} -")
    )
    assert damaged_line.startswith(expected[8]) and damaged_line.endswith(
        f"; read on at {members[4]}"
    )
    assert listed == sorted([*expected[:8], damaged_line, *expected[9:]])
    assert "  11  " not in out and "skipped 11 records" in out
    pages = Counter(url for (url,) in query(tmp_path / "data", "SELECT url FROM pages"))
    # a and b from all three; c is cut off in the truncated copy
    assert pages == {"http://a.example/": 3, "http://b.example/x": 3, "http://c.example/": 2}
    links = query(tmp_path / "data", "SELECT DISTINCT src_url, dst_url FROM links ORDER BY ALL")
    assert links == [
        ("http://a.example/", "http://b.example/x"),
        ("http://b.example/x", "http://a.example/"),
        ("http://b.example/x", "http://b.example/y"),
        ("http://c.example/", "http://a.example/"),
    ]


def test_a_broken_member_that_reads_as_an_arc_header_costs_only_itself(tmp_path: Path) -> None:
    """Five words on a line make an ARC header to warcio: a broken member of a WARC file whose
    bytes happen to read so (about 1 in 20 of the members above did) must not swallow the sound
    records after it."""
    sound = BytesIO()
    writer = WARCWriter(sound, gzip=True)
    for url, block in [("http://a.example/", page("A", "http://b.example/x")),
                       ("http://b.example/x", page("B", "http://a.example/")),
                       ("http://c.example/", page("C", "http://a.example/"))]:  # fmt: skip
        writer.write_record(http_record(writer, url, block))
    data = sound.getvalue()
    members = [m for m in range(len(data)) if data.startswith(b"\x1f\x8b\x08", m)]
    garbage = b"\x00\xed junk 1.2.3.4 20240102030405 text/html 2000\n" + b"\xff" * 40
    broken = tmp_path / "broken.warc.gz"
    broken.write_bytes(data[: members[1]] + garbage + data[members[1] :])
    records = list(http_records(broken, 10_000))
    assert [(type(r).__name__, r.offset, r.url) for r in records] == [
        ("Fetched", 0, "http://a.example/"),
        ("Skipped", members[1], ""),
        ("Fetched", members[1] + len(garbage), "http://b.example/x"),
        ("Fetched", members[2] + len(garbage), "http://c.example/"),
    ]
    assert records[1].reason == "unreadable record"  # type: ignore[union-attr]
    assert records[1].detail.startswith("Invalid WARC record, first line: ")  # type: ignore[union-attr]
    assert records[1].detail.endswith(f"; read on at {members[1] + len(garbage)}")  # type: ignore[union-attr]


def test_no_such_file_is_a_one_line_error(tmp_path: Path) -> None:
    proc = run_linkgraph("ingest-warc", "--data-dir", str(tmp_path), str(tmp_path / "x*.warc.gz"),
                         check=False)  # fmt: skip
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr == f"linkgraph: error: no WARC file at '{tmp_path / 'x*.warc.gz'}'\n"


# -- files nobody here wrote: pywb's sample archives (iana.org, wget 1.14, revisits) ----------


def normalised(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if parts.port and parts.port != {"http": 80, "https": 443}[parts.scheme]:
        host = f"{host}:{parts.port}"
    safe = "/%:@!$&'()*+,;=-._~"
    query_ = quote(parts.query, safe=safe + "?")
    has_query = "?" in url.split("#", 1)[0]
    return urlunsplit((parts.scheme, host, quote(parts.path or "/", safe=safe),
                       query_ if has_query else "", ""))  # fmt: skip


class Anchors(HTMLParser):
    """<a href> and <area href>, resolved against the first <base href>."""

    def __init__(self, base: str) -> None:
        super().__init__()
        self.base, self.based, self.hrefs = base, False, []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "base" and href and not self.based:
            self.base, self.based = urljoin(self.base, href.strip()), True
        elif tag in ("a", "area") and href is not None:
            self.hrefs.append(href.strip())


def expected_links(paths: list[Path]) -> Counter[tuple[str, str]]:
    bodies: dict[str, tuple[StatusAndHeaders, bytes]] = {}
    fetches = []
    for path in paths:
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type not in ("response", "revisit"):
                    continue
                digest = record.rec_headers.get_header("WARC-Payload-Digest")
                http = record.http_headers
                if record.rec_type == "response" and http:
                    bodies.setdefault(digest, (http, record.content_stream().read()))
                own = http if http is not None and http.statusline else None
                fetches.append((record.rec_headers.get_header("WARC-Target-URI"), digest, own))
    found: Counter[tuple[str, str]] = Counter()
    for uri, digest, own in fetches:
        http, body = bodies[digest]
        http = own or http
        if http.get_statuscode() != "200" or "html" not in http.get_header("Content-Type", ""):
            continue
        src = normalised(uri)
        assert src is not None
        parser = Anchors(src)
        parser.feed(body.decode("utf-8", "replace"))
        for href in parser.hrefs:
            dst = normalised(urljoin(parser.base, href))
            if dst:
                found[(src, dst)] += 1
    return found


def test_other_tools_warcs_give_the_links_an_independent_reading_gives(
    pywb: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    samples = pywb / "sample_archive" / "warcs"
    names = ("iana.warc.gz", "example-wget-1-14.warc.gz", "dupes.warc.gz")
    paths = [Path(shutil.copy(samples / name, tmp_path / name)) for name in names]
    out = ingest(tmp_path / "data", *map(str, paths), job="samples")
    assert "skipped no records" in out
    expected = expected_links(paths)
    assert sum(expected.values()) > 5000
    stored = query(tmp_path / "data", "SELECT src_url, dst_url, count() FROM links "
                   "WHERE type IN ('text', 'image', 'area') GROUP BY ALL")  # fmt: skip
    assert Counter({(src, dst): n for src, dst, n in stored}) == expected
    kinds = Counter(r.rec_type for p in paths for r in ArchiveIterator(p.open("rb")))
    assert kinds["revisit"] > 100  # iana.org's crawl and dupes.warc.gz store many
    pages = query(tmp_path / "data", "SELECT count() FROM pages")[0][0]
    assert pages == kinds["response"] + kinds["revisit"]


def wat_record(writer: WARCWriter, envelope: dict[str, Any]) -> Any:
    payload = json.dumps({"Envelope": envelope}).encode()
    uri = envelope["WARC-Header-Metadata"].get("WARC-Target-URI", "")
    return writer.create_warc_record(
        uri,
        "metadata",
        payload=BytesIO(payload),
        length=len(payload),
        warc_content_type="application/json",
        warc_headers_dict={"WARC-Date": "2024-03-01T00:00:00Z"},
    )


def test_wat_files_give_the_links_they_list(tmp_path: Path) -> None:
    """A WAT file as Common Crawl writes them: per fetch a request, a response and a metadata
    envelope; only the response's carries links."""
    path = tmp_path / "sample.warc.wat.gz"
    response = {
        "WARC-Header-Metadata": {
            "WARC-Type": "response", "WARC-Target-URI": "https://www.Example.com/dir/page",
            "WARC-Date": "2024-02-29T12:34:56Z", "WARC-Record-ID": "<urn:uuid:1>",
        },
        "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": "200", "Version": "HTTP/1.1", "Reason": "OK"},
            "Headers": {"Content-Type": "text/html; charset=iso-8859-1",
                        "Content-Encoding": "gzip"},
            "Entity-Length": 51234,
            "HTML-Metadata": {
                "Head": {
                    "Title": "Caf\u00e9 & more", "Base": "https://cdn.example.com/base/",
                    "Link": [{"path": "LINK@/href", "url": "/canon", "rel": "canonical"}],
                },
                "Links": [
                    {"path": "A@/href", "url": "other", "text": "Other \u00e9"},
                    {"path": "A@/href", "url": "https://b.example.org/x", "rel": "nofollow"},
                    {"path": "IMG@/src", "url": "/pic.png"},
                    {"path": "A@/href", "url": "javascript:void(0)", "text": "js"},
                    {"path": "FORM@/action", "url": "/search"},
                ],
            },
        }},
    }  # fmt: skip
    redirect = {
        "WARC-Header-Metadata": {
            "WARC-Type": "response", "WARC-Target-URI": "http://old.example.net/",
            "WARC-Date": "2024-02-29T12:00:00Z",
        },
        "Payload-Metadata": {"HTTP-Response-Metadata": {
            "Response-Message": {"Status": "301"},
            "Headers": {"Location": "https://new.example.net/start"},
        }},
    }  # fmt: skip
    request = {
        "WARC-Header-Metadata": {
            "WARC-Type": "request",
            "WARC-Target-URI": "https://www.example.com/dir/page",
        }
    }
    with path.open("wb") as out:
        writer = WARCWriter(out, gzip=True)
        for envelope in (request, response, redirect):
            writer.write_record(wat_record(writer, envelope))
    out_text = ingest(tmp_path / "data", str(path), job="wat")
    assert "2 records: 2 pages, 5 links" in out_text and "skipped no records" in out_text
    pages = query(tmp_path / "data", "SELECT url, status, bytes, title, canonical, location, "
                  "toString(fetched_at) FROM pages ORDER BY url")  # fmt: skip
    assert pages == [
        ("http://old.example.net/", 301, 0, "", "", "https://new.example.net/start",
         "2024-02-29 12:00:00.000"),
        ("https://www.example.com/dir/page", 200, 51234, "Caf\u00e9 & more",
         "https://cdn.example.com/canon", "", "2024-02-29 12:34:56.000"),
    ]  # fmt: skip
    links = query(tmp_path / "data", "SELECT src_url, dst_url, anchor, type, nofollow FROM links "
                  "ORDER BY src_url, dst_url")  # fmt: skip
    page = "https://www.example.com/dir/page"
    assert links == [
        ("http://old.example.net/", "https://new.example.net/start", "", "redirect", 0),
        (page, "https://b.example.org/x", "", "text", 1),
        (page, "https://cdn.example.com/base/other", "Other \u00e9", "text", 0),
        (page, "https://cdn.example.com/canon", "", "canonical", 0),
        (page, "https://cdn.example.com/search", "", "form", 0),
    ]
