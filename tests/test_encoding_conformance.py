"""Encoding conformance: what a page's links become, byte for byte, as a browser decodes the page
(the HTML Standard's encoding sniffing) and encodes its links (the URL Standard: the query in the
page's encoding, the path in UTF-8). Each expected URL is spelled out in percent-encoded bytes,
taken from the encodings' published tables, not computed by the code under test."""

from __future__ import annotations

import pytest

from crawler.extraction import extract

PAGE = "http://site.example/dir/page.html"
PAD = "<!-- " + "padding " * 700 + "-->"  # 5,600 bytes: past lexbor's prescan and w3lib's


def page_of(body: bytes, charset: str | None = None) -> tuple[list[tuple[str, str]], str, str]:
    page = extract(body, PAGE, encoding=charset)
    return [(link.url, link.anchor) for link in page.links], page.encoding, page.encoding_source


CASES = [
    # (case, body, Content-Type charset, [(url, anchor)], codec, decided by)
    (
        "late meta, undeclared before it",
        f"<html><head>{PAD}<meta charset=iso-8859-1></head>"
        '<a href="/vetgép?q=vetgép">vetgép</a>'.encode("cp1252"),
        None,
        [("http://site.example/vetg%C3%A9p?q=vetg%E9p", "vetgép")],
        "cp1252",
        "late meta",
    ),
    (
        "late http-equiv, in the body",
        f"<body>{PAD}<meta http-equiv=Content-Type content='text/html; charset=windows-1250'>"
        '<a href="niepełnosprawni?q=łódź">niepełnosprawni</a>'.encode("cp1250"),
        None,
        [("http://site.example/dir/niepe%C5%82nosprawni?q=%B3%F3d%9F", "niepełnosprawni")],
        "cp1250",
        "late meta",
    ),
    (
        "transport charset contradicts the meta: the transport wins",
        '<meta charset=windows-1252><a href="/łódź?q=łódź">łódź</a>'.encode("cp1250"),
        "windows-1250",
        [("http://site.example/%C5%82%C3%B3d%C5%BA?q=%B3%F3d%9F", "łódź")],
        "cp1250",
        "http",
    ),
    (
        "a late meta does not override the transport charset",
        f'{PAD}<meta charset=iso-8859-1><a href="/łódź?q=łódź">łódź</a>'.encode("cp1250"),
        "windows-1250",
        [("http://site.example/%C5%82%C3%B3d%C5%BA?q=%B3%F3d%9F", "łódź")],
        "cp1250",
        "http",
    ),
    (
        "a UTF-8 BOM contradicts both",
        b"\xef\xbb\xbf" + '<meta charset=shift_jis><a href="/café?q=café">café</a>'.encode(),
        "windows-1252",
        [("http://site.example/caf%C3%A9?q=caf%C3%A9", "café")],
        "utf-8",
        "bom",
    ),
    (
        "a UTF-16LE BOM: the query is UTF-8 all the same",
        '\ufeff<meta charset=windows-1252><a href="/café?q=café">café</a>'.encode("utf-16-le"),
        "windows-1252",
        [("http://site.example/caf%C3%A9?q=caf%C3%A9", "café")],
        "utf-16-le",
        "bom",
    ),
    (
        "windows-1252 declared by meta; a character it lacks is a numeric reference",
        '<meta charset="windows-1252"><a href="/naïve?q=€&#1078;">naïve</a>'.encode("cp1252"),
        None,
        [("http://site.example/na%C3%AFve?q=%80%26%231078%3B", "naïve")],
        "cp1252",
        "meta",
    ),
    (
        "Shift_JIS",
        '<meta charset="Shift_JIS"><a href="/東京?q=東京">東京</a>'.encode("shift_jis"),
        None,
        [("http://site.example/%E6%9D%B1%E4%BA%AC?q=%93%8C%8B%9E", "東京")],
        "cp932",
        "meta",
    ),
    (
        "Shift_JIS: an ASCII trail byte stays as it is (本 is 0x96 0x7B)",
        '<a href="/日本?q=日本">日本</a>'.encode("shift_jis"),
        "shift_jis",
        [("http://site.example/%E6%97%A5%E6%9C%AC?q=%93%FA%96{", "日本")],
        "cp932",
        "http",
    ),
    (
        "GBK",
        '<a href="/中文?q=中文">中文</a>'.encode("gbk"),
        "GBK",
        [("http://site.example/%E4%B8%AD%E6%96%87?q=%D6%D0%CE%C4", "中文")],
        "gb18030",
        "http",
    ),
    (
        "windows-1250 by meta, in the query of <base> too",
        '<meta charset=windows-1250><base href="/b/?ś=ś"><a href="ż?q=ż">ż</a>'.encode("cp1250"),
        None,
        [("http://site.example/b/%C5%BC?q=%BF", "ż")],
        "cp1250",
        "meta",
    ),
    (
        "a meta naming UTF-16 means UTF-8",
        '<meta charset=utf-16><a href="/é?q=é">é</a>'.encode(),
        None,
        [("http://site.example/%C3%A9?q=%C3%A9", "é")],
        "utf-8",
        "meta",
    ),
    (
        "undeclared, valid UTF-8",
        '<a href="/é?q=é">é</a>'.encode(),
        None,
        [("http://site.example/%C3%A9?q=%C3%A9", "é")],
        "utf-8",
        "utf-8",
    ),
    (
        "an unknown transport label is ignored: the meta decides",
        '<meta charset=windows-1252><a href="/?q=é">é</a>'.encode("cp1252"),
        "no-such-encoding",
        [("http://site.example/?q=%E9", "é")],
        "cp1252",
        "meta",
    ),
]


@pytest.mark.parametrize(
    ("body", "charset", "links", "codec", "source"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_encoding_case(
    body: bytes, charset: str | None, links: list[tuple[str, str]], codec: str, source: str
) -> None:
    assert page_of(body, charset) == (links, codec, source)


def test_undeclared_pages_that_are_not_utf8_are_guessed_never_read_as_utf8() -> None:
    text = "Az állatorvosi vetgép szerviz Győrben és környékén, hétfőtől péntekig."
    body = f'<p>{text}</p><a href="/?q=é">é</a>'.encode("cp1250")
    links, _, source = page_of(body)
    assert source in ("detected", "default")
    assert links == [("http://site.example/?q=%E9", "é")]  # é is 0xE9 in windows-1250 and -1252
