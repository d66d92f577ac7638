"""`linkgraph export` and `linkgraph disavow` on the crawled test web (exact rows against the
views and the ground truth), and the disavow file's limits on a generated index."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timezone
from pathlib import Path

import pyarrow.parquet as pq

from crawler.sinks import insert_rows
from crawler.storage import StorageTarget, connect
from tests.conftest import IndexedWeb, query, run_cli
from tests.indextruth import IndexTruth

COLUMNS = "src_url, dst_url, anchor, follow"


def export(indexed: IndexedWeb, out: Path, *args: str) -> None:
    status, _, err = run_cli("export", *args, "-o", str(out), "--data-dir", str(indexed.data_dir))
    assert status == 0, err
    assert f"to {out}" in err and not list(out.parent.glob(".*.partial"))


def test_export_formats_hold_exactly_the_view(indexed_web: IndexedWeb, tmp_path: Path) -> None:
    expected = sorted(query(indexed_web.data_dir, f"SELECT {COLUMNS} FROM backlinks"))
    assert len(expected) == len(IndexTruth(indexed_web.web, indexed_web.port).pairs)

    export(indexed_web, tmp_path / "b.csv", "backlinks", "--format", "CSV")
    with open(tmp_path / "b.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    got = sorted((r["src_url"], r["dst_url"], r["anchor"], int(r["follow"])) for r in rows)
    assert got == expected

    export(indexed_web, tmp_path / "b.jsonl", "backlinks", "--format", "JSONEachRow")
    lines = [json.loads(x) for x in (tmp_path / "b.jsonl").read_text("utf-8").splitlines()]
    got = sorted((r["src_url"], r["dst_url"], r["anchor"], r["follow"]) for r in lines)
    assert got == expected
    assert any("ü" in a for r in lines for a in r["anchors"]), "UTF-8 anchors survive"

    export(indexed_web, tmp_path / "b.parquet", "backlinks", "--format", "Parquet")
    table = pq.read_table(tmp_path / "b.parquet").to_pylist()
    got = sorted((str(r["src_url"]), str(r["dst_url"]), str(r["anchor"]), r["follow"])
                 for r in table)  # fmt: skip
    assert [(s, d, a, int(f)) for s, d, a, f in got] == expected


def test_export_with_a_filter_and_errors(indexed_web: IndexedWeb, tmp_path: Path) -> None:
    out = tmp_path / "nofollow.csv"
    export(indexed_web, out, "referring_domains", "--where", "institutional = 1 AND tld = 'uk'")
    with open(out, newline="", encoding="utf-8") as f:
        got = {(r["dst_domain"], r["src_domain"]) for r in csv.DictReader(f)}
    truth = IndexTruth(indexed_web.web, indexed_web.port)
    assert got == {
        (dst, src) for (dst, src), row in truth.referring_domains().items()
        if row[11] == 1 and row[8] == "uk"
    }  # fmt: skip
    data = ["--data-dir", str(indexed_web.data_dir)]
    status, _, err = run_cli("export", "nope", "-o", str(tmp_path / "x"), *data)
    assert status == 2 and "no view or table named 'nope'" in err
    status, _, err = run_cli("export", "backlinks", "--where", "no_such_column = 1", "-o",
                             str(tmp_path / "y"), *data)  # fmt: skip
    assert status == 2 and "export failed" in err and not (tmp_path / "y").exists()
    assert not list(tmp_path.glob(".*.partial"))


def test_disavow_file(indexed_web: IndexedWeb, tmp_path: Path) -> None:
    truth = IndexTruth(indexed_web.web, indexed_web.port)
    out = tmp_path / "disavow.txt"
    status, _, err = run_cli(
        "disavow", "example.com", "--where", "follow_backlinks = 0 OR country = 'Japan'",
        "-o", str(out), "--data-dir", str(indexed_web.data_dir),
    )  # fmt: skip
    assert status == 0, err
    lines = out.read_bytes().decode("utf-8").splitlines()
    assert lines[0].startswith("# Disavow file for example.com")
    expected = sorted(
        src for (dst, src), row in truth.referring_domains().items()
        if dst == "example.com" and (row[1] == 0 or row[10] == "Japan")
    )  # fmt: skip
    assert [x for x in lines if not x.startswith("#")] == [f"domain:{d}" for d in expected]
    assert expected == ["example.biz", "example.co.jp"]


def generated_referrers(data_dir: Path, names: list[str]) -> None:
    """One followed backlink to target.example from each of `names`, through the writer."""
    client = connect(StorageTarget("", data_dir))
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    links = [
        ["gen", f"http://{n}/", n, n, "http://target.example/", "target.example",
         "target.example", "x", "a", "text", 0, 0, 0, 0, when]
        for n in names
    ]  # fmt: skip
    insert_rows(client, [], links)
    client.close()


def test_disavow_respects_googles_limits(tmp_path: Path) -> None:
    data = tmp_path / "data"
    many = [f"d{i}.example" for i in range(100_001)]
    long = [f"{'x' * 50}{i}.example" for i in range(36_000)]  # ~2.3 MB in 36,000 lines
    generated_referrers(data, many + long)
    args = ["--data-dir", str(data), "-o", str(tmp_path / "d.txt")]
    status, _, err = run_cli("disavow", "target.example", "--where", "1 = 1", *args)
    assert status == 2 and "Google accepts at most 100000 lines" in err
    status, _, err = run_cli(
        "disavow", "target.example", "--where", "startsWith(src_domain, 'x')", *args
    )
    assert status == 2 and "36002 lines" in err and "2000000 bytes" in err
    status, _, err = run_cli(
        "disavow", "target.example", "--where", "src_domain LIKE 'd9999%'", *args
    )
    assert status == 0, err
    text = (tmp_path / "d.txt").read_text("utf-8")
    assert text.count("domain:") == 11 and len(text.splitlines()) == 13
