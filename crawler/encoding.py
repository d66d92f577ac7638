"""A page's character encoding, decided as a browser decides it, and URLs encoded in it.

The HTML Standard's order: a byte-order mark; the transport charset (`Content-Type`); a
declaration near the start (`<meta charset>`, `<meta http-equiv=content-type>`, found by
w3lib's prescan); and when none of these decided, a tentative guess (UTF-8 when the bytes are
valid UTF-8, else charset-normalizer's detection, else windows-1252), which a declaration the
parser meets later replaces (`Decided.tentative`; crawler/extraction.py reparses then).

UTF-8 pages stay on the fast path: their bytes go to lexbor as they are, which decodes UTF-8
itself; only other encodings are decoded in Python (w3lib's `html_to_unicode`).

A link's query is percent-encoded in the page's encoding (the URL Standard's "URL parser with
an encoding"), its path always in UTF-8: Ada does the latter, `encode_query` the former.
"""

from __future__ import annotations

from dataclasses import dataclass

from charset_normalizer import from_bytes
from w3lib.encoding import (
    html_body_declared_encoding,
    html_to_unicode,
    http_content_type_encoding,
    read_bom,
    resolve_encoding,
)

__all__ = ["Decided", "decide", "declared_by_meta", "decode", "encode_query"]

UTF8 = "utf-8"
FALLBACK = "cp1252"  # windows-1252, the HTML Standard's default for most locales
# Undecodable as UTF-8: what the detector may read, the start being enough to tell.
_DETECT_BYTES = 64 * 1024
# The Standard: a <meta> naming UTF-16 means UTF-8 (the bytes read as ASCII-compatible),
# x-user-defined means windows-1252.
_META_REPLACED = {"utf-16": UTF8, "utf-16-le": UTF8, "utf-16-be": UTF8, "x-user-defined": FALLBACK}
# What the detector may answer: the legacy encodings of the Encoding Standard, which browsers
# decode (charset-normalizer knows many more, mac-latin2 among them, that no browser would pick).
_BROWSER_CODECS = [
    *(f"cp{n}" for n in (*range(1250, 1259), 874, 866, 932)),
    *(f"iso8859_{n}" for n in (2, 3, 4, 5, 6, 7, 8, 10, 13, 14, 15, 16)),
    *("koi8_r", "koi8_u", "mac_roman", "mac_cyrillic"),
    *("gb18030", "big5", "euc_jp", "iso2022_jp", "euc_kr"),
]
_UNICODE_CODECS = frozenset({UTF8, "utf-16", "utf-16-le", "utf-16-be"})
_HEX = "0123456789ABCDEF"


@dataclass(frozen=True, slots=True)
class Decided:
    """A page's encoding (a Python codec name) and what decided it."""

    encoding: str
    source: str  # "bom", "http", "meta", "utf-8" (undeclared, valid), "detected", "default"

    @property
    def tentative(self) -> bool:
        """True when a declaration met later in the document takes over."""
        return self.source in ("utf-8", "detected", "default")

    @property
    def fast(self) -> bool:
        """UTF-8 without a BOM: lexbor reads the bytes as they are."""
        return self.encoding == UTF8 and self.source != "bom"

    @property
    def url_encoding(self) -> str:
        """The encoding a link's query is percent-encoded in: UTF-8 for UTF-8 and UTF-16."""
        return UTF8 if self.encoding in _UNICODE_CODECS else self.encoding


def _codec(label: str | None) -> str | None:
    """The Python codec of an encoding label; None for an unknown label or one that cannot
    read text (a bytes-to-bytes codec such as "base64")."""
    if not label:
        return None
    codec = resolve_encoding(label)
    if not codec:
        return None
    try:
        "<".encode(codec)
    except (LookupError, UnicodeError, TypeError):
        return None
    return codec


def decide(body: bytes, content_type: str | None) -> Decided:
    """The encoding of `body` served with the `Content-Type` header value `content_type`."""
    bom_encoding, _ = read_bom(body)
    if bom_encoding:
        return Decided(bom_encoding, "bom")
    if content_type and (transport := _codec(http_content_type_encoding(content_type))):
        return Decided(transport, "http")
    if declared := _codec(html_body_declared_encoding(body)):
        return Decided(_META_REPLACED.get(declared, declared), "meta")
    if body.isascii():
        return Decided(UTF8, "utf-8")
    try:
        body.decode(UTF8)
    except UnicodeDecodeError:
        pass
    else:
        return Decided(UTF8, "utf-8")
    guess = from_bytes(body[:_DETECT_BYTES], cp_isolation=_BROWSER_CODECS).best()
    if guess is not None and (codec := _codec(guess.encoding)) and codec != UTF8:
        return Decided(codec, "detected")
    return Decided(FALLBACK, "default")


def decode(body: bytes, decided: Decided) -> str:
    """`body` as text in the decided encoding, a BOM removed, bad bytes as U+FFFD."""
    # html_to_unicode applies the same order; handing it the decision as the content type
    # (a BOM still comes first) makes it decode exactly what `decide` chose.
    _, text = html_to_unicode(f"text/html; charset={decided.encoding}", body)
    return text


def declared_by_meta(
    charset: str | None, http_equiv: str | None, content: str | None
) -> str | None:
    """The codec a `<meta>` element met by the parser declares, None when it declares none."""
    if charset is not None:
        codec = _codec(charset.strip())
    elif http_equiv is not None and http_equiv.strip().lower() == "content-type" and content:
        codec = _codec(http_content_type_encoding(content))
    else:
        return None
    return _META_REPLACED.get(codec, codec) if codec else None


# Bytes a special URL's query percent-encodes: C0 controls, space, '"', '#', "'", '<', '>', and
# from DEL up. An ASCII byte inside a multibyte character (Shift_JIS's "{" in 本) stays as it is.
_QUERY_ENCODED = frozenset((*range(0x21), 0x22, 0x23, 0x27, 0x3C, 0x3E, *range(0x7F, 0x100)))


def _percent(data: bytes) -> str:
    return "".join(
        f"%{_HEX[b >> 4]}{_HEX[b & 15]}" if b in _QUERY_ENCODED else chr(b) for b in data
    )


def encode_query(href: str, encoding: str) -> str:
    """`href` with the non-ASCII characters of its query percent-encoded in `encoding`, as the
    URL Standard parses a URL found in a document in that encoding. A character the encoding
    cannot represent becomes its numeric character reference, percent-encoded (`%26%23NNN%3B`).
    The path, the host and the fragment are left to the URL parser (UTF-8, IDNA)."""
    if href.isascii():
        return href
    end = href.find("#")
    if end < 0:
        end = len(href)
    start = href.find("?", 0, end)
    if start < 0:
        return href
    query = href[start + 1 : end]
    if query.isascii():
        return href
    out = []
    for char in query:
        if char.isascii():
            out.append(char)
            continue
        try:
            out.append(_percent(char.encode(encoding)))
        except UnicodeEncodeError:
            out.append(f"%26%23{ord(char)}%3B")
    return href[: start + 1] + "".join(out) + href[end:]
