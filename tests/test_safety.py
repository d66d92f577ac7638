"""Safe by default: `demo` clears only a data dir it made, bad paths are one line before anything
starts, and no password in a URL is printed or saved in the frontier. Real processes, a real
Valkey (with a password) and the test web on 127.0.0.1."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from crawler.cli.demo import MARKER
from crawler.demo.server import LocalWebServer
from crawler.processes.valkey import _executable, _free_port
from tests.conftest import RETRY_BACKOFF, query, run_linkgraph
from tests.testweb import TestWeb

PASSWORD = "Vk-s3cret-pw"
PROXY_PASSWORD = "Px-s3cret-pw"
INDEX_PASSWORD = "Ch-s3cret-pw"
NOT_FETCHED = "http://127.0.0.1:9/"  # a loopback seed: refused without --allow-private


def files_under(directory: Path) -> dict[str, int]:
    return {str(p.relative_to(directory)): p.stat().st_size for p in directory.rglob("*")
            if p.is_file()}  # fmt: skip


def one_error_line(proc: subprocess.CompletedProcess[str], message: str) -> None:
    assert (proc.returncode, proc.stdout, proc.stderr) == (2, "", f"linkgraph: error: {message}\n")


# -- demo --data-dir ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def crawled_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The data dir of a real `linkgraph crawl` (one page, recorded as refused)."""
    data = tmp_path_factory.mktemp("real") / "data"
    run_linkgraph("crawl", NOT_FETCHED, "--data-dir", str(data), "--workers", "1", "-q")
    assert query(data, "SELECT url, error FROM pages") == [
        (NOT_FETCHED, "refused: non-public address")
    ]
    return data


@pytest.mark.parametrize("spool", [True, False], ids=["as-left", "redis-and-clickhouse-only"])
def test_demo_refuses_a_data_dir_it_did_not_make(crawled_data_dir: Path, spool: bool) -> None:
    if not spool:  # what the issue found: exactly the names a demo's data dir has
        for path in sorted(crawled_data_dir.glob("spool/**/*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        (crawled_data_dir / "spool").rmdir()
        assert sorted(p.name for p in crawled_data_dir.iterdir()) == ["clickhouse", "redis"]
    before = files_under(crawled_data_dir)
    proc = run_linkgraph("demo", "--data-dir", str(crawled_data_dir), "--hosts", "2",
                         "--pages", "2", check=False)  # fmt: skip
    one_error_line(
        proc,
        f"{crawled_data_dir} was not made by `linkgraph demo` (it has no {MARKER} file) and the "
        "demo clears its data dir: choose another --data-dir",
    )
    assert files_under(crawled_data_dir) == before
    assert query(crawled_data_dir, "SELECT count() FROM pages") == [(1,)]


def test_demo_clears_its_own_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "demo"
    counts = []
    for _ in range(2):
        proc = run_linkgraph("demo", "--data-dir", str(data), "--hosts", "2", "--pages", "2")
        assert "job demo: finished" in proc.stderr
        assert (data / MARKER).is_file()
        counts.append(query(data, "SELECT count(), uniqExact(url) FROM pages")[0])
    # the second run starts from an empty index: the same pages once, not twice
    assert counts[0] == counts[1] and counts[0][0] == counts[0][1] > 0


# -- paths given by flags -------------------------------------------------------------------------
PathCase = Callable[[Path], tuple[list[str], str]]
PATH_CASES: dict[str, PathCase] = {
    "crawl --warc unmakeable": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/data", "--warc", "/proc/nowarc"],
        "--warc /proc/nowarc: cannot write there: No such file or directory",
    ),
    "crawl --warc a file": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/data", "--warc", f"{t}/file"],
        f"--warc {t}/file: not a directory",
    ),
    "crawl --data-dir under a file": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/file/data"],
        f"--data-dir {t}/file/data: cannot write there: Not a directory",
    ),
    "crawl --seeds-file missing": lambda t: (
        ["crawl", "--data-dir", f"{t}/data", "--seeds-file", f"{t}/missing"],
        f"cannot read seeds file {t}/missing: No such file or directory",
    ),
    "crawl --seeds-file binary": lambda t: (
        ["crawl", "--data-dir", f"{t}/data", "--seeds-file", f"{t}/binary"],
        f"seeds file {t}/binary is not UTF-8 text",
    ),
    "crawl --hosts-file binary": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/data", "--hosts-file", f"{t}/binary"],
        f"hosts file {t}/binary is not UTF-8 text",
    ),
    "crawl --hosts-file a directory": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/data", "--hosts-file", str(t)],
        f"cannot read hosts file {t}: Is a directory",
    ),
    "crawl --allow-domains-file binary": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/data", "--allow-domains-file", f"{t}/binary"],
        f"domains file {t}/binary is not UTF-8 text",
    ),
    "crawl --deny-domains-file missing": lambda t: (
        ["crawl", NOT_FETCHED, "--data-dir", f"{t}/data", "--deny-domains-file", f"{t}/missing"],
        f"cannot read domains file {t}/missing: No such file or directory",
    ),
    "worker --warc unmakeable": lambda t: (
        ["worker", "--job", "j", "--redis", "redis://127.0.0.1:1/0", "--warc", "/proc/nowarc"],
        "--warc /proc/nowarc: cannot write there: No such file or directory",
    ),
    "jobs --data-dir under a file": lambda t: (
        ["jobs", "--data-dir", f"{t}/file/data"],
        f"no crawl jobs in {t}/file/data: no frontier there (give the --data-dir of a crawl, "
        "or --redis URL)",
    ),
    "demo --data-dir a file": lambda t: (
        ["demo", "--data-dir", f"{t}/file"],
        f"cannot create the demo data dir {t}/file: File exists",
    ),
    "export -o in a missing directory": lambda t: (
        ["export", "backlinks", "--data-dir", f"{t}/data", "-o", f"{t}/missing/out.csv"],
        f"-o {t}/missing/out.csv: no directory {t}/missing",
    ),
    "export -o a directory": lambda t: (
        ["export", "backlinks", "--data-dir", f"{t}/data", "-o", str(t)],
        f"-o {t}: is a directory",
    ),
    "disavow -o in an unmakeable directory": lambda t: (
        [
            "disavow",
            "example.com",
            "--where",
            "1",
            "--data-dir",
            f"{t}/data",
            "-o",
            "/proc/nowarc/disavow.txt",
        ],
        "-o /proc/nowarc/disavow.txt: no directory /proc/nowarc",
    ),
}


@pytest.mark.parametrize("case", PATH_CASES)
def test_a_bad_path_is_one_line_before_anything_starts(case: str, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("a file, not a directory\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe\x00bad\x80\n")
    args, message = PATH_CASES[case](tmp_path)
    one_error_line(run_linkgraph(*args, check=False), message)
    assert not (tmp_path / "data").exists(), "nothing is started, so nothing is saved"
    assert not Path("/proc/nowarc").exists()


# -- passwords in URLs ----------------------------------------------------------------------------
@pytest.fixture
def locked_redis(tmp_path: Path) -> Iterator[str]:
    """A real Valkey on loopback that wants PASSWORD; its URL, with the password."""
    port = _free_port()
    server = subprocess.Popen(
        [_executable(), "--bind", "127.0.0.1", "--port", str(port), "--requirepass", PASSWORD,
         "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://:{PASSWORD}@127.0.0.1:{port}/0"
    try:
        client = redis.Redis.from_url(url)
        for _ in range(200):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(port=port).get("x")  # it does want the password
        yield url
    finally:
        server.terminate()
        server.wait(timeout=15)


def redis_values(url: str) -> list[bytes]:
    """Every key and every value in the server, read by its type (no encodings in between)."""
    client: Any = redis.Redis.from_url(url)  # its replies are bytes: no decode_responses
    found: list[bytes] = []
    for key in client.scan_iter(count=1000):
        found.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            found.append(client.get(key) or b"")
        elif kind == "hash":
            found += [b for pair in client.hgetall(key).items() for b in pair]
        elif kind == "list":
            found += client.lrange(key, 0, -1)
        elif kind == "set":
            found += list(client.smembers(key))
        elif kind == "zset":
            found += [member for member, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            for _, fields in client.xrange(key):
                found += [b for pair in fields.items() for b in pair]
        else:
            raise AssertionError(f"key {key!r} of type {kind} is not read here")
    return found


def test_no_password_is_printed_or_saved_in_the_frontier(
    locked_redis: str, web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    data = tmp_path / "data"
    job = ["--job", "secret", "--data-dir", str(data), "--redis", locked_redis]
    crawl = [
        "crawl",
        *web.seeds(server.port),
        *job,
        "--hosts-file",
        str(hosts_file),
        "--allow-private",
        "--delay",
        "0",
        "--workers",
        "2",
        "-v",
        "-s",
        "LINKGRAPH_PROGRESS_SECONDS=0.05",
        "-s",
        f"LINKGRAPH_RETRY_BACKOFF={RETRY_BACKOFF}",
    ]
    done = [run_linkgraph(*crawl)]
    rows = query(data, "SELECT url, status FROM pages")
    assert dict(rows) == web.expected_pages(server.port) and len(rows) == len(dict(rows))
    assert "[secret] " in done[0].stderr, "progress lines were printed"
    done += [
        run_linkgraph("crawl", *job, "--delay", "0.5"),  # a resume prints what it changed
        run_linkgraph("jobs", "--redis", locked_redis),
        run_linkgraph("status", "secret", "--redis", locked_redis),
        run_linkgraph("status", "secret", "--json", "--redis", locked_redis),
    ]
    assert "job secret: delay 0.0 -> 0.5" in done[1].stderr
    refused = [
        run_linkgraph("crawl", NOT_FETCHED, "--job", "proxied", "--data-dir", str(data),
                      "--redis", locked_redis, "-s",
                      f"LINKGRAPH_PROXY=http://bob:{PROXY_PASSWORD}@127.0.0.1:1/", check=False),
        run_linkgraph("crawl", NOT_FETCHED, "--job", "indexed", "--data-dir", str(data),
                      "--redis", locked_redis, "--clickhouse",
                      f"http://default:{INDEX_PASSWORD}@127.0.0.1:1/db", check=False),
    ]  # fmt: skip
    one_error_line(
        refused[0],
        "-s LINKGRAPH_PROXY=http://bob:***@127.0.0.1:1/: it would save a password with the job: "
        "give the URL in $LINKGRAPH_PROXY",
    )
    assert refused[1].returncode == 2 and refused[1].stderr.count("\n") == 1
    assert "http://default:***@127.0.0.1:1/db" in refused[1].stderr
    for proc in done + refused:
        for secret in (PASSWORD, PROXY_PASSWORD, INDEX_PASSWORD):
            assert secret not in proc.stdout and secret not in proc.stderr, proc.args
    values = redis_values(locked_redis)
    assert any(b"secret" in v for v in values), "the job is in this server"
    assert not [v for v in values if b"proxied" in v or b"indexed" in v], "refused jobs are saved"
    for secret in (PASSWORD, PROXY_PASSWORD, INDEX_PASSWORD):
        assert not [v for v in values if secret.encode() in v]
