"""URL handling: WHATWG parsing (via Ada), http(s) filtering, hosts, origins, registered domains.

Every URL the crawler stores goes through `resolve` or `canonicalize`, so all of them share one
serialisation: the WHATWG one a browser would show (lowercase IDNA host, default port dropped,
percent-encoding applied), without the fragment and without userinfo.

A link to `http://user:pass@host/x` is a link to `http://host/x`: the page is fetched without
the credentials, and recorded, linked and queued under that URL. The credentials name no other
resource, a crawler has no business sending them, and they must never be stored or logged.

Resolution sits on the extraction hot path (~100 calls per page), so it talks to Ada's C API
through the cffi binding that the `ada_url` package ships, skipping the per-call Python layers
of `ada_url.join_url` (object finalisers, exceptions on failure). Each call is a few
microseconds, and extraction makes most of them no call at all: crawler/linkcache.py keeps the
answers for hrefs that recur (navigation links), under the parts of the base each one depends
on (`base_scopes`), so that a memoised answer is always the one `resolve` would give.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

import tldextract
from ada_url import idna_to_ascii

# The package's own compiled binding; `ada_url.ada_adapter` is a thin wrapper around it.
from ada_url._ada_wrapper import ffi, lib

_HTTP_PREFIXES = (b"http://", b"https://")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
# Ada's SchemeType values for the two schemes we crawl.
_SCHEME_NAMES = {0: "http", 2: "https"}
_OMITTED = 0xFFFFFFFF  # ada_url_omitted: a component the URL does not have

_parse = lib.ada_parse
_parse_with_base = lib.ada_parse_with_base
_is_valid = lib.ada_is_valid
_get_href = lib.ada_get_href
_has_credentials = lib.ada_has_credentials
_set_username = lib.ada_set_username
_set_password = lib.ada_set_password
_free = lib.ada_free
_unpack = ffi.unpack


def _utf8(text: str) -> bytes:
    try:
        return text.encode()
    except UnicodeEncodeError:
        # Lone surrogates cannot be UTF-8 encoded; the URL Standard (like a browser's USVString
        # conversion) replaces each with U+FFFD. Round-tripping through UTF-16 does exactly that.
        fixed = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
        return fixed.encode()


def _http_href(url: object) -> str | None:
    """The href of a parsed Ada URL if it is http(s), without its fragment and userinfo;
    frees `url`."""
    try:
        if _has_credentials(url):  # False when parsing failed
            _set_username(url, b"", 0)
            _set_password(url, b"", 0)
        href = _get_href(url)  # empty when parsing failed
        if href.length < 8:  # shorter than any "http://h"
            return None
        raw: bytes = _unpack(href.data, href.length)
        if not raw.startswith(_HTTP_PREFIXES):
            return None
        if b"xn--" in raw:
            host = lib.ada_get_hostname(url)
            if not _valid_punycode(_unpack(host.data, host.length)):
                return None
    finally:
        _free(url)
    # In a serialised http(s) URL every earlier '#' is percent-encoded, so the first one
    # starts the fragment.
    cut = raw.find(b"#")
    return (raw if cut < 0 else raw[:cut]).decode()


@lru_cache(maxsize=4096)
def _valid_punycode(host: bytes) -> bool:
    """Whether every `xn--` label of `host` is Punycode for the label it claims to be.

    Ada passes ASCII hosts through without decoding their `xn--` labels, while the URL
    Standard's domain-to-ASCII rejects one that does not decode, or that decodes to a label
    which would not encode back to itself (disallowed, mapped or all-ASCII code points).
    """
    for label in host.split(b"."):
        if label.startswith(b"xn--"):
            try:
                decoded = label[4:].decode("punycode")
            except UnicodeError:
                return False
            if not decoded or idna_to_ascii(decoded) != label:
                return False
    return True


def _join(base: bytes, href: str) -> str | None:
    try:
        raw = href.encode()
    except UnicodeEncodeError:
        raw = _utf8(href)
    if raw.startswith(_HTTP_PREFIXES):
        # Already absolute: the base cannot matter, so skip re-parsing it (a third of the cost).
        return _http_href(_parse(raw, len(raw)))
    return _http_href(_parse_with_base(raw, len(raw), base, len(base)))


def resolve(base: str, href: str) -> str | None:
    """Resolve `href` against `base` as a browser would; None unless the result is http(s)."""
    return _join(_utf8(base), href)


def resolver(base: str) -> Callable[[str], str | None]:
    """`resolve` bound to one base URL, which is then encoded once for a whole page of links."""
    return partial(_join, _utf8(base))


def base_scopes(base: str) -> tuple[str, str] | None:
    """What of an http(s) `base` a root-relative href and a path-relative one depend on: its
    serialisation up to its path, and up to the last "/" of its path (crawler/linkcache.py says
    why). None for a base that is not an http(s) URL."""
    raw = _utf8(base)
    parsed = _parse(raw, len(raw))
    try:
        if not _is_valid(parsed) or lib.ada_get_scheme_type(parsed) not in _SCHEME_NAMES:
            return None
        href = _get_href(parsed)
        serialised: bytes = _unpack(href.data, href.length)
        parts = lib.ada_get_components(parsed)
        path_start = parts.pathname_start
        path_ends = (parts.search_start, parts.hash_start, len(serialised))
    finally:
        _free(parsed)
    path_end = next(end for end in path_ends if end != _OMITTED)
    last_slash = serialised.rfind(b"/", path_start, path_end)
    if path_start == _OMITTED or last_slash < 0:  # never for http(s): the path is "/" or more
        return None
    return serialised[:path_start].decode(), serialised[: last_slash + 1].decode()


def canonicalize(url: str) -> str | None:
    """Normalise an absolute URL (a seed, a redirect target); None unless it is http(s)."""
    raw = _utf8(url)
    return _http_href(_parse(raw, len(raw)))


def _host_and_port(url: str) -> tuple[str, str, str] | None:
    """(scheme, hostname, port) of an http(s) URL; port is "" when it is the default."""
    raw = _utf8(url)
    parsed = _parse(raw, len(raw))
    try:
        if not _is_valid(parsed):
            return None
        scheme = _SCHEME_NAMES.get(lib.ada_get_scheme_type(parsed))
        if scheme is None:
            return None
        host = lib.ada_get_hostname(parsed)
        hostname: bytes = _unpack(host.data, host.length)
        if b"xn--" in hostname and not _valid_punycode(hostname):
            return None
        port = lib.ada_get_port(parsed)
        return scheme, hostname.decode(), _unpack(port.data, port.length).decode()
    finally:
        _free(parsed)


def host_of(url: str) -> str:
    """The host of a canonical http(s) URL, the one spelling of a host used everywhere (queues,
    politeness, scope, the index): lowercase ASCII (IDNA), an IPv6 address in brackets, no port,
    no userinfo. "" for anything but an http(s) URL.

    `url` must be canonical, as `resolve` and `canonicalize` return them, and every URL the
    crawler holds is: the host is then sliced out, not parsed again, because the hot path takes
    the host of every link. Canonicalize any other input first.
    """
    if not url.startswith(("http://", "https://")):
        return ""
    authority = url.split("/", 3)[2].rpartition("@")[2]  # userinfo never holds a raw "/" or "@"
    if authority.startswith("["):
        return authority[: authority.index("]") + 1]
    return authority.partition(":")[0]


def dns_name(host: str) -> str:
    """`host` (or a name a resolver is asked for) as DNS compares names: lowercase, without the
    brackets of an IPv6 address or the final root dot.

    This is not a second host_of: URLs keep `a.com.` and `a.com` apart (WHATWG), DNS does not,
    so a hosts-file entry for `a.com` must answer both.
    """
    return host.lower().rstrip(".").strip("[]")


def origin_of(url: str) -> str:
    """The URL's origin as `scheme://host:port`, port always spelled out (robots.txt scope)."""
    parts = _host_and_port(url)
    if parts is None:
        return ""
    scheme, host, port = parts
    return f"{scheme}://{host}:{port or _DEFAULT_PORTS[scheme]}"


# Only the public-suffix snapshot bundled with tldextract: no fetch, no cache directory, so the
# result never depends on the network or on when a worker started. Private suffixes
# (github.io, blogspot.com) count, so each user site is its own registered domain.
_EXTRACT = tldextract.TLDExtract(
    suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
)


@lru_cache(maxsize=1 << 18)
def registered_domain(host: str) -> str:
    """The registrable domain of `host`; the host itself when it has none (IP, localhost,
    a bare public suffix)."""
    host = host.lower()
    if not host or host.startswith("[") or ":" in host:
        return host  # IPv6 literal (or a host with a port, which is not a host)
    return _EXTRACT(host).top_domain_under_public_suffix or host
