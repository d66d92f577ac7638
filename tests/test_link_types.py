"""Link types beyond the extraction: an index stored before `links.type` upgrades with its data,
the setting that chooses the followed types is checked, and a crawl follows what it names."""

from __future__ import annotations

import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

from crawler.demo.server import LocalWebServer
from crawler.errors import UsageError
from crawler.schema import SCHEMA_DIR, apply_schema, migrations
from crawler.setting_values import check_value
from crawler.storage import StorageTarget, connect
from tests.conftest import query, run_linkgraph
from tests.testweb import TestWeb

OLD_LINK_COLUMNS = (
    "job", "src_url", "src_host", "src_domain", "dst_url", "dst_host", "dst_domain", "anchor",
    "tag", "nofollow", "ugc", "sponsored", "page_nofollow", "fetched_at",
)  # fmt: skip
TYPE_FILES = ["028_links_type.sql", "029_backlinks_state_types.sql", "030_backlinks_types.sql"]


def old_link(src: str, dst: str, anchor: str, tag: str, day: int) -> tuple[object, ...]:
    src_host, dst_host = src.split("/")[2], dst.split("/")[2]
    when = datetime(2026, 1, day, tzinfo=timezone.utc)
    return ("old", src, src_host, src_host, dst, dst_host, dst_host, anchor, tag, 0, 0, 0, 0, when)


def test_an_index_stored_before_link_types_upgrades_with_its_data(tmp_path: Path) -> None:
    before = tmp_path / "before"
    before.mkdir()
    for migration in migrations():
        if migration.name not in TYPE_FILES:
            shutil.copy(SCHEMA_DIR / migration.name, before / migration.name)
    client = connect(StorageTarget("", tmp_path / "data"), migrate=False)
    try:
        apply_schema(client, before)
        rows = [
            old_link("http://a.example/", "http://b.example/x", "text", "a", 1),
            old_link("http://a.example/", "http://b.example/x", "", "area", 3),
            old_link("http://a.example/old", "http://b.example/y", "", "redirect", 2),
            old_link("http://a.example/", "http://a.example/in", "internal", "a", 1),
        ]
        client.insert("links", rows, column_names=list(OLD_LINK_COLUMNS))

        assert apply_schema(client) == TYPE_FILES

        types = client.query("SELECT dst_url, tag, type FROM links ORDER BY dst_url, tag")
        assert types.result_rows == [
            ("http://a.example/in", "a", "text"),
            ("http://b.example/x", "a", "text"),
            ("http://b.example/x", "area", "area"),
            ("http://b.example/y", "redirect", "redirect"),
        ]
        backlinks = client.query(
            "SELECT src_url, dst_url, anchors, types, toDate(first_seen), toDate(last_seen) "
            "FROM backlinks ORDER BY src_url, dst_url"
        )
        assert [tuple(row) for row in backlinks.result_rows] == [
            ("http://a.example/", "http://b.example/x", ["text"], ["area", "text"],
             datetime(2026, 1, 1).date(), datetime(2026, 1, 3).date()),
            ("http://a.example/old", "http://b.example/y", [], ["redirect"],
             datetime(2026, 1, 2).date(), datetime(2026, 1, 2).date()),
        ]  # fmt: skip
        # a link stored now goes through the recreated view, with its type
        new = old_link("http://c.example/", "http://b.example/x", "", "a", 4)
        columns = [*OLD_LINK_COLUMNS[:9], "type", *OLD_LINK_COLUMNS[9:]]
        client.insert("links", [(*new[:9], "image", *new[9:])], column_names=columns)
        image = client.query("SELECT src_url, types FROM backlinks WHERE has(types, 'image')")
        assert image.result_rows == [("http://c.example/", ["image"])]
    finally:
        client.close()


def test_the_followed_types_are_checked() -> None:
    where = "-s LINKGRAPH_FOLLOW_LINK_TYPES"
    assert check_value("LINKGRAPH_FOLLOW_LINK_TYPES", "text, frame", where) == ["text", "frame"]
    with pytest.raises(UsageError, match=r"'frames' is not a link type \(text, image, area"):
        check_value("LINKGRAPH_FOLLOW_LINK_TYPES", "text,frames", where)


def crawled(server: LocalWebServer, hosts_file: Path, data: Path, *extra: str) -> set[str]:
    run_linkgraph(
        "crawl", f"http://kinds.example.net:{server.port}/", "--data-dir", str(data),
        "--hosts-file", str(hosts_file), "--allow-private", "--delay", "0", "-q",
        "--scope", "seed-domains", *extra,
    )  # fmt: skip
    prefix = f"http://kinds.example.net:{server.port}"
    return {url.removeprefix(prefix) for (url,) in query(data, "SELECT url FROM pages")}


def test_frames_are_followed_when_the_setting_says_so(
    web: TestWeb, served: tuple[LocalWebServer, Path], tmp_path: Path
) -> None:
    server, hosts_file = served
    # by default, frame, hreflang, canonical and form links are recorded, not followed
    assert crawled(server, hosts_file, tmp_path / "default") == {
        "/", "/svg-xlink", "/svg-href", "/frames", "/with-header",
    }  # fmt: skip
    with_frames = crawled(
        server, hosts_file, tmp_path / "frames",
        "-s", "LINKGRAPH_FOLLOW_LINK_TYPES=text,image,area,redirect,frame",
    )  # fmt: skip
    assert with_frames == {
        "/", "/svg-xlink", "/svg-href", "/frames", "/with-header", "/embedded", "/frame-a",
    }  # fmt: skip
