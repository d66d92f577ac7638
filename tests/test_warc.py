"""WARC capture: a crawl with --warc archives every fetch as received, as archives expect.

A small web with a gzip page, a br page, two pages with one body, a redirect and two hosts whose
robots.txt are the same bytes is crawled once through the real CLI; the files are then read
with warcio and checked with `warcio check`, cdxj-indexer's CDXJ and `linkgraph warc`.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import brotli
import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.demo.server import LocalWebServer, RequestLog
from crawler.demo.web import (
    HTML_TYPE,
    PortTemplate,
    StaticWeb,
    TemplateResource,
    redirect,
    text,
    write_hosts_file,
)
from crawler.demo.web import html as html_page
from crawler.warc.files import WarcFiles, cdxj_path
from tests.conftest import query, run_cli, run_linkgraph

ENC = "enc.example.com"
TWIN = "twin.example.org"
ROBOTS = "User-agent: *\nDisallow: /private\n"
GZIP_PAGE = b"<title>Gzip</title><p><a href=/leaf-g>gzip leaf</a></p>" + b"<!-- pad -->" * 50
BR_PAGE = b"<title>Brotli</title><p><a href=/leaf-b>br leaf</a></p>" + b"<!-- pad -->" * 50
SAME_PAGE = "<title>Same</title><a href=/leaf-s>same leaf</a>"
GZIPPED = gzip.compress(GZIP_PAGE, mtime=0)
BROTLIED = brotli.compress(BR_PAGE)


def encoded(body: bytes, coding: str) -> TemplateResource:
    headers = (("Content-Type", HTML_TYPE), ("Content-Encoding", coding), ("Vary", "Accept"))
    return TemplateResource(200, headers, PortTemplate(body))


def encoded_web() -> StaticWeb:
    home = (
        "<title>Home</title><a href=/gzip>g</a><a href=/br>b</a><a href=/same-a>a</a>"
        "<a href=/same-b>b</a><a href=/moved>m</a><a href=/private>p</a>"
        f"<a href=http://{TWIN}:{{port}}/>twin</a>"
    )
    resources = {
        (ENC, "/robots.txt"): text(ROBOTS),
        (TWIN, "/robots.txt"): text(ROBOTS),
        (ENC, "/"): html_page(home),
        (ENC, "/gzip"): encoded(GZIPPED, "gzip"),
        (ENC, "/br"): encoded(BROTLIED, "br"),
        (ENC, "/same-a"): html_page(SAME_PAGE),
        (ENC, "/same-b"): html_page(SAME_PAGE),
        (ENC, "/moved"): redirect("/leaf-r"),
        (TWIN, "/"): html_page(f"<title>Twin</title><a href=http://{ENC}:{{port}}/>home</a>"),
    }
    for leaf in ("g", "b", "s", "r"):
        resources[(ENC, f"/leaf-{leaf}")] = html_page(f"<title>Leaf {leaf}</title>")
    return StaticWeb(resources)


@dataclass
class Archived:
    data: Path
    warc_dir: Path
    port: int
    log: list[RequestLog]
    web: StaticWeb

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.port}{path}"

    def files(self) -> list[Path]:
        return sorted(self.warc_dir.glob("*.warc.gz"))

    def records(self) -> list[dict[str, Any]]:
        found = []
        for path in self.files():
            with path.open("rb") as stream:
                records = ArchiveIterator(stream)
                for record in records:
                    found.append(
                        {
                            "file": path,
                            "offset": records.offset,
                            "type": record.rec_type,
                            "fields": dict(record.rec_headers.headers),
                            "http": record.http_headers,
                            "raw": record.raw_stream.read(),
                        }
                    )
        return found


def crawl_with_warc(tmp: Path, web: StaticWeb, seeds: list[str], *settings: str) -> Archived:
    hosts_file = tmp / "hosts"
    with LocalWebServer(web) as server:
        write_hosts_file(hosts_file, web.hosts())
        run_linkgraph(
            "crawl", *[s.format(port=server.port) for s in seeds], "--job", "archive",
            "--data-dir", str(tmp / "data"), "--hosts-file", str(hosts_file), "--allow-private",
            "--delay", "0", "-q", "--warc", str(tmp / "warc"), "--workers", "1", *settings,
        )  # fmt: skip
        log = server.requests()
    return Archived(tmp / "data", tmp / "warc", server.port, log, web)


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Archived:
    tmp = tmp_path_factory.mktemp("warc")
    # small files: the crawl rotates through several
    settings = ("-s", "LINKGRAPH_WARC_MAX_BYTES=6000", "-s", "LINKGRAPH_WARC_METADATA=true")
    return crawl_with_warc(tmp, encoded_web(), [f"http://{ENC}:{{port}}/"], *settings)


def test_warcio_check_accepts_every_file(archived: Archived) -> None:
    files = [str(p) for p in archived.files()]
    assert len(files) >= 3  # rotated
    br_url = archived.url(ENC, "/br")
    br_file = str(
        next(r["file"] for r in archived.records() if r["fields"].get("WARC-Target-URI") == br_url)
    )
    plain = [f for f in files if f != br_file]
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "warcio"), "check", "-v", *plain],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checked = [r for r in archived.records() if r["file"] != Path(br_file)]
    assert proc.stdout.count("digest pass") == len(checked) - sum(
        1
        for r in checked
        if r["type"] == "revisit"  # a revisit has no payload to digest
    )
    # warcio cannot decode br with brotli 1.2 (next test): its checker, with the decoder fixed
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.warc.warcio_brotli", "check", "-v", *files],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "digest pass" in proc.stdout and "digest fail" not in proc.stdout


def test_files_are_named_and_opened_as_archives_expect(archived: Archived) -> None:
    pattern = re.compile(r"^linkgraph-archive-\d{14}-(\d{5})-[\w-]+-(\d+)\.warc\.gz$")
    serials: dict[str, list[int]] = {}
    for path in archived.files():
        match = pattern.match(path.name)
        assert match, path.name
        serials.setdefault(match.group(2), []).append(int(match.group(1)))
        with path.open("rb") as stream:
            first = next(iter(ArchiveIterator(stream)))
            assert first.rec_type == "warcinfo"
            info = first.content_stream().read().decode()
        assert "software: linkgraph/" in info and "isPartOf: archive" in info
        assert "robots: obey" in info and "format: WARC File Format 1.1" in info
    for numbers in serials.values():  # per process: 0, 1, 2...
        assert sorted(numbers) == list(range(len(numbers)))


def test_every_fetch_has_a_request_and_a_response(archived: Archived) -> None:
    records = archived.records()
    requests = [r for r in records if r["type"] == "request"]
    answers = {
        r["fields"]["WARC-Record-ID"]: r for r in records if r["type"] in ("response", "revisit")
    }
    fetched = sorted(archived.url(e.host, e.path) for e in archived.log)
    assert sorted(r["fields"]["WARC-Target-URI"] for r in requests) == fetched
    assert len(answers) == len(requests)
    robots = {archived.url(ENC, "/robots.txt"), archived.url(TWIN, "/robots.txt")}
    assert robots <= set(fetched)
    for request in requests:
        answer = answers[request["fields"]["WARC-Concurrent-To"]]
        uri = request["fields"]["WARC-Target-URI"]
        assert answer["fields"]["WARC-Target-URI"] == uri
        assert answer["fields"]["WARC-IP-Address"] == "127.0.0.1"
        assert answer["file"] == request["file"]
        assert request["http"].protocol == "GET"
        assert request["http"].get_header("Host") == uri.split("/")[2]
        assert request["http"].get_header("User-Agent").startswith("linkgraph/")
    statuses = {r["fields"]["WARC-Target-URI"]: r["http"].statusline for r in answers.values()}
    assert statuses[archived.url(ENC, "/moved")] == "301 Moved Permanently"
    assert statuses[archived.url(ENC, "/")] == "200 OK"


def test_encoded_pages_are_stored_as_served(archived: Archived) -> None:
    by_url = {
        r["fields"]["WARC-Target-URI"]: r for r in archived.records() if r["type"] == "response"
    }
    for path, body, coding in (("/gzip", GZIPPED, "gzip"), ("/br", BROTLIED, "br")):
        record = by_url[archived.url(ENC, path)]
        assert record["raw"] == body
        assert record["http"].get_header("Content-Encoding") == coding
        assert record["http"].get_header("Content-Length") == str(len(body))
        assert record["http"].get_header("Vary") == "Accept"  # every header, not 5
    # ...and indexed as decoded pages
    rows = dict(
        query(archived.data, "SELECT url, (bytes, title, links) FROM pages WHERE status = 200")
    )
    assert rows[archived.url(ENC, "/gzip")] == (len(GZIP_PAGE), "Gzip", 1)
    assert rows[archived.url(ENC, "/br")] == (len(BR_PAGE), "Brotli", 1)


def test_warcio_alone_cannot_decode_the_br_page(archived: Archived) -> None:
    """Why ingest decodes br itself: warcio 1.8.1's brotli hook fails with brotli 1.2."""
    path = next(
        r["file"]
        for r in archived.records()
        if r["fields"].get("WARC-Target-URI") == archived.url(ENC, "/br")
    )
    with path.open("rb") as stream, pytest.raises(AttributeError):
        for record in ArchiveIterator(stream):
            if record.rec_headers.get_header("WARC-Target-URI") == archived.url(ENC, "/br"):
                record.content_stream().read()


def test_revisits_point_at_their_originals(archived: Archived) -> None:
    records = archived.records()
    by_id = {r["fields"]["WARC-Record-ID"]: r for r in records}
    revisits = [r for r in records if r["type"] == "revisit"]
    pairs = set()
    for revisit in revisits:
        fields = revisit["fields"]
        original = by_id[fields["WARC-Refers-To"]]
        assert original["type"] == "response"
        assert original["fields"]["WARC-Target-URI"] == fields["WARC-Refers-To-Target-URI"]
        assert original["fields"]["WARC-Date"] == fields["WARC-Refers-To-Date"]
        assert original["fields"]["WARC-Payload-Digest"] == fields["WARC-Payload-Digest"]
        assert fields["WARC-Profile"].endswith("/revisit/identical-payload-digest")
        assert revisit["raw"] == b""  # headers only
        pairs.add(frozenset({fields["WARC-Target-URI"], fields["WARC-Refers-To-Target-URI"]}))
    robots = frozenset({archived.url(ENC, "/robots.txt"), archived.url(TWIN, "/robots.txt")})
    same = frozenset({archived.url(ENC, "/same-a"), archived.url(ENC, "/same-b")})
    assert sorted(pairs, key=sorted) == sorted({robots, same}, key=sorted)
    assert len(revisits) == 2


def test_the_cdxj_beside_each_file_lists_every_response(archived: Archived) -> None:
    for path in archived.files():
        with path.open("rb") as stream:
            records = ArchiveIterator(stream)
            answers = {
                (r.rec_headers.get_header("WARC-Target-URI"), records.offset)
                for r in records
                if r.rec_type in ("response", "revisit")
            }
        listed = set()
        for line in cdxj_path(path).read_text().splitlines():
            fields = json.loads(line.split(" ", 2)[2])
            if fields["filename"] == path.name and fields.get("mime") != "warc/request":
                listed.add((fields["url"], int(fields["offset"])))
        assert {a for a in answers} <= listed and answers


def test_outlinks_are_archived_as_metadata(archived: Archived) -> None:
    records = archived.records()
    ids = {r["fields"]["WARC-Record-ID"]: r for r in records}
    metadata = {r["fields"]["WARC-Target-URI"]: r for r in records if r["type"] == "metadata"}
    home = metadata[archived.url(ENC, "/")]
    assert ids[home["fields"]["WARC-Refers-To"]]["type"] == "response"
    outlinks = home["raw"].decode().splitlines()
    assert outlinks == [
        f"outlink: {archived.url(ENC, p)}"
        for p in ("/gzip", "/br", "/same-a", "/same-b", "/moved", "/private")
    ] + [f"outlink: {archived.url(TWIN, '/')}"]


def test_pages_point_at_their_records_and_linkgraph_warc_prints_them(archived: Archived) -> None:
    rows = query(archived.data, "SELECT url, warc_file, warc_offset FROM pages WHERE status > 0")
    assert len(rows) == 11  # /private is disallowed by robots.txt
    for url, path, offset in rows:
        with open(path, "rb") as stream:
            stream.seek(offset)
            record = next(iter(ArchiveIterator(stream)))
            assert record.rec_headers.get_header("WARC-Target-URI") == url
            assert record.rec_type in ("response", "revisit")
    # the body is binary: read through a process of its own
    proc = subprocess.run(
        [sys.executable, "-m", "crawler.cli.main", "warc", archived.url(ENC, "/br"),
         "--data-dir", str(archived.data)],
        capture_output=True,
    )  # fmt: skip
    head, _, body = proc.stdout.partition(b"\r\n\r\n")
    assert head.split(b"\r\n")[0] == b"HTTP/1.1 200 OK"
    assert b"Content-Encoding: br" in head.split(b"\r\n")
    assert body == BROTLIED
    # a revisit prints its original's payload
    for url in (archived.url(ENC, "/same-a"), archived.url(ENC, "/same-b")):
        proc = subprocess.run(
            [sys.executable, "-m", "crawler.cli.main", "warc", url, "--data-dir",
             str(archived.data)],
            capture_output=True,
        )  # fmt: skip
        assert proc.stdout.partition(b"\r\n\r\n")[2] == SAME_PAGE.encode()


def test_warc_of_a_page_never_archived_is_a_one_line_error(archived: Archived) -> None:
    status, out, err = run_cli(
        "warc", archived.url(ENC, "/nowhere"), "--data-dir", str(archived.data)
    )
    assert (status, out) == (2, "")
    assert err == f"linkgraph: error: no archived fetch of {archived.url(ENC, '/nowhere')} in " \
        "the index\n"  # fmt: skip


def test_files_rotate_at_the_size_limit_and_gzip_at_the_level(tmp_path: Path) -> None:
    from io import BytesIO

    for level, xfl in ((1, 4), (9, 2)):  # RFC 1952: XFL 4 = fastest, 2 = best
        files = WarcFiles(
            tmp_path / str(level), "t", max_bytes=4000, gzip_level=level, info={"a": "b"}
        )
        for n in range(6):
            body = random.Random(n).randbytes(1024)  # 1 KiB that does not compress
            record = files.builder.create_warc_record(
                f"http://x.example/{n}", "resource", payload=BytesIO(body), length=len(body)
            )
            files.write(record)
        files.close()
        assert len(files.closed) == 3  # two 1 KiB records a file, plus its warcinfo
        for path in files.closed:
            data = path.read_bytes()
            assert data[8] == xfl
            assert 0 < len(data) <= 4000
            uris = [r.rec_headers.get_header("WARC-Target-URI") for r in
                    ArchiveIterator(BytesIO(data))]  # fmt: skip
            assert uris[0] is None and len(uris) == 3


@pytest.fixture(scope="module")
def pywb() -> Iterator[Path]:
    """pywb from PyPI, in a venv of its own (.venv/pywb): its pins (redis 2, brotlipy) would
    break linkgraph's own environment."""
    root = Path(__file__).resolve().parents[1] / ".venv" / "pywb"
    if not (root / "bin" / "wayback").exists():
        subprocess.run([sys.executable, "-m", "venv", str(root)], check=True)
        subprocess.run(
            [str(root / "bin" / "pip"), "install", "-q", "pywb==2.10.0"], check=True, timeout=600
        )
    yield root


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_pywb_replays_the_archive_byte_for_byte(
    archived: Archived, pywb: Path, tmp_path: Path
) -> None:
    collection = tmp_path / "collections" / "crawl"
    (collection / "archive").mkdir(parents=True)
    (collection / "indexes").mkdir()
    for path in archived.files():
        shutil.copy(path, collection / "archive" / path.name)
    lines = sorted(
        line for path in archived.files() for line in cdxj_path(path).read_text().splitlines()
    )
    (collection / "indexes" / "index.cdxj").write_text("\n".join(lines) + "\n")
    port = free_port()
    server = subprocess.Popen(
        [str(pywb / "bin" / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        pages = query(archived.data, "SELECT url FROM pages WHERE status = 200 ORDER BY url")
        assert len(pages) == 10
        for (url,) in pages:
            host, path = url.split("/", 3)[2].split(":")[0], "/" + url.split("/", 3)[3]
            served = archived.web.resolve(host, path, archived.port)
            assert served is not None
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/crawl/2100id_/{url}",
                headers={"Accept-Encoding": "gzip, br"},  # the stored bytes, as they came
            )
            with urllib.request.urlopen(request, timeout=30) as reply:
                assert reply.read() == served.body, url
                coding = dict(served.headers).get("Content-Encoding")
                assert reply.headers.get("Content-Encoding") == coding
    finally:
        server.terminate()
        server.wait(timeout=10)


PHRASE = "phrase.example.com"
REFUSED = "refused.example.com"


def phrase_page(closed_port: int) -> bytes:
    """A page as a raw server sends it: a reason phrase of its own, header names spelled its
    way, a header line without a colon, a chunked body in one chunk, Connection: close."""
    body = f'<title>Odd</title><a href="http://{REFUSED}:{closed_port}/gone">gone</a>'.encode()
    head = (
        b"HTTP/1.1 200 Fine Thanks\r\n"
        b"content-TYPE: text/html; charset=utf-8\r\n"
        b"X-Folded: one\r\n  two\r\n"
        b"no colon here\r\n"
        b"Transfer-Encoding: chunked\r\n"
        b"Connection: close\r\n"
        b"\r\n"
    )
    return head + b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n"


@dataclass
class RawArchive:
    warc_dir: Path
    page_url: str
    page_bytes: bytes
    refused_robots: str

    def blocks(self) -> list[tuple[str, dict[str, str], bytes]]:
        """(type, WARC fields, the record's block as stored) of every record."""
        found = []
        for path in sorted(self.warc_dir.glob("*.warc.gz")):
            with path.open("rb") as stream:
                for record in ArchiveIterator(stream, no_record_parse=True):
                    fields = dict(record.rec_headers.headers)
                    found.append((record.rec_type, fields, record.raw_stream.read()))
        return found


@pytest.fixture(scope="module")
def raw_archive(tmp_path_factory: pytest.TempPathFactory) -> RawArchive:
    from tests.rawserver import RawRequest, RawServer, response

    tmp = tmp_path_factory.mktemp("rawwarc")
    with socket.socket() as sock:  # a port where nothing listens: connections are refused
        sock.bind(("127.0.0.1", 0))
        closed_port = int(sock.getsockname()[1])
    page = phrase_page(closed_port)

    def answer(request: RawRequest) -> bytes:
        if request.target == "/robots.txt":
            return response("200 OK", [("Content-Type", "text/plain")], b"User-agent: *\n")
        return page

    hosts_file = tmp / "hosts"
    write_hosts_file(hosts_file, [PHRASE, REFUSED])
    with RawServer(answer) as server:
        run_linkgraph(
            "crawl", f"http://{PHRASE}:{server.port}/", "--job", "raw",
            "--data-dir", str(tmp / "data"), "--hosts-file", str(hosts_file), "--allow-private",
            "--delay", "0", "-q", "--warc", str(tmp / "warc"), "--workers", "1",
            "-s", "LINKGRAPH_RETRY_TIMES=0",
        )  # fmt: skip
        assert server.targets() == ["/robots.txt", "/"]
    return RawArchive(
        tmp / "warc",
        f"http://{PHRASE}:{server.port}/",
        page,
        f"http://{REFUSED}:{closed_port}/robots.txt",
    )


def test_the_response_head_is_archived_byte_for_byte_as_received(raw_archive: RawArchive) -> None:
    responses = [
        (fields, block)
        for kind, fields, block in raw_archive.blocks()
        if kind == "response" and fields["WARC-Target-URI"] == raw_archive.page_url
    ]
    assert len(responses) == 1
    fields, block = responses[0]
    # reason phrase, spelling, folding, the colon-less line, Transfer-Encoding and Connection
    assert block == raw_archive.page_bytes
    assert fields["WARC-IP-Address"] == "127.0.0.1"
    requests = [f for k, f, _ in raw_archive.blocks() if k == "request"]
    paired = [f for f in requests if f["WARC-Concurrent-To"] == fields["WARC-Record-ID"]]
    assert [f["WARC-Target-URI"] for f in paired] == [raw_archive.page_url]
    # warcio reads the stored message as any reader would: the phrase, and the body dechunked
    with next(raw_archive.warc_dir.glob("*.warc.gz")).open("rb") as stream:
        record = next(
            r
            for r in ArchiveIterator(stream)
            if r.rec_type == "response" and r.rec_headers["WARC-Target-URI"] == raw_archive.page_url
        )
        assert record.http_headers.statusline == "200 Fine Thanks"
        assert record.http_headers.get_header("Transfer-Encoding") == "chunked"
        assert record.content_stream().read().startswith(b"<title>Odd</title>")
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "warcio"), "check", "-v",
         *map(str, raw_archive.warc_dir.glob("*.warc.gz"))],
        capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_refused_connection_is_archived_as_a_failure(raw_archive: RawArchive) -> None:
    failures = [
        (fields, block)
        for kind, fields, block in raw_archive.blocks()
        if kind == "metadata" and b"fetch-error:" in block
    ]
    assert [f["WARC-Target-URI"] for f, _ in failures] == [raw_archive.refused_robots]
    fields, block = failures[0]
    assert fields["Content-Type"] == "application/warc-fields"
    assert fields["WARC-Linkgraph-Prerequisite"] == "robots.txt"
    lines = block.decode().split("\r\n")
    assert lines[:3] == [
        "fetch-error: connection refused",
        "method: GET",
        "heritrix-fetch-status: -2",
    ]
    assert lines[3].startswith("exception: ") and "refused" in lines[3].lower()
    assert lines[4:] == [""]
    # nothing else was attempted there: no request or response for the refused host
    others = [f for k, f, _ in raw_archive.blocks() if k in ("request", "response")]
    assert all(REFUSED not in f["WARC-Target-URI"] for f in others)
