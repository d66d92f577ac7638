"""Where an HTML document nests deeper than a bound, estimated by one scan of its tags.

Why: lexbor's tree builder, like the HTML Standard's algorithm it follows, walks the stack of open
elements for many tokens (a `<div>` looks for a `<p>` to close, an unmatched end tag looks for its
element), so parse time grows with tags x depth: 100,000 nested `<div>`s take 35-40 s. Browsers
cap the depth (Chromium at 512); the extraction parses only the part of a page above the cap.

The scan models the stack of open elements closely enough for real pages (end tags close what
they match, `<p>`/`<li>`/`<td>`... close their open sibling, comments and raw text are skipped) and
errs towards counting deeper than the parser would, never much shallower: where it cannot follow
the parser (adoption agency, implied `<tbody>`), lexbor's stack is at most a few times deeper.
"""

from __future__ import annotations

import re

import numpy as np

__all__ = ["SAFE_TAGS", "too_deep_at"]

# A document with fewer `<` than this cannot nest deeper, nor take long whatever its shape
# (4096 levels x 4096 tokens parse in about 20 ms): most pages are never scanned.
SAFE_TAGS = 4096

_TAG = rb"<(?P<end>/?)(?P<name>[a-zA-Z][^\t\n\f\r />]*)(?P<attrs>[^>]*)"
# A comment, an element holding only text (`<a href=x>text</a>`, the most common shape: it opens
# and closes in one match), or a tag.
_TOKEN = re.compile(
    rb"<!--.*?(?:-->|\Z)"
    rb"|<(?P<leaf>[a-zA-Z][^\t\n\f\r />]*)(?=[\t\n\f\r />])[^>]*>[^<]*</(?P=leaf)[\t\n\f\r ]*>"
    rb"|" + _TAG,
    re.DOTALL | re.IGNORECASE,
)
_TAG_AT = re.compile(_TAG, re.IGNORECASE)
# In HTML (not in <svg>/<math>) these hold text up to their end tag, whatever it looks like.
_RAW_TEXT = {
    name: re.compile(rb"</" + name + rb"[\t\n\f\r />]", re.IGNORECASE)
    for name in (b"script", b"style", b"textarea", b"title", b"xmp", b"iframe", b"noembed",
                 b"noframes")
}  # fmt: skip
_VOID = frozenset(
    b"area base basefont bgsound br col embed frame hr image img input keygen link meta param "
    b"source track wbr html head body".split()  # html/head/body: never more than one open
)
# A start tag of these closes an open <p> that is the current element.
_CLOSES_P = frozenset(
    b"address article aside blockquote center details dialog dir div dl fieldset figcaption "
    b"figure footer header hgroup main menu nav ol p search section summary ul h1 h2 h3 h4 h5 h6 "
    b"pre listing form hr xmp li dd dt".split()
)
_HEADINGS = frozenset(b"h1 h2 h3 h4 h5 h6".split())
# Elements that stop an end tag from closing what is below them (the scopes of the standard).
_BOUNDARIES = frozenset(
    b"applet caption html table td th marquee object template button select svg math "
    b"foreignobject desc".split()
)
_FORMATTING = frozenset(b"a b big code em font i nobr s small strike strong tt u".split())
# Start tags that leave <svg>/<math> content (the HTML Standard's "breakout" list).
_BREAKOUT = frozenset(
    b"b big blockquote body br center code dd div dl dt em embed h1 h2 h3 h4 h5 h6 head hr i img "
    b"li listing menu meta nobr ol p pre ruby s small span strong strike sub sup table tt u ul "
    b"var font".split()
)
_FOREIGN_ROOTS = frozenset((b"svg", b"math"))
_HTML_POINTS = frozenset((b"foreignobject", b"desc", b"title", b"annotation-xml"))
_TABLE_PARTS = frozenset((b"td", b"th", b"caption"))
_CELLS = frozenset((b"td", b"th"))
# A start tag that ends the current element when that is one of these (<li> after <li>...).
_CLOSES_CURRENT: dict[bytes, frozenset[bytes]] = {
    b"li": frozenset((b"li",)),
    b"option": frozenset((b"option",)),
    b"dd": frozenset((b"dd", b"dt")),
    b"dt": frozenset((b"dd", b"dt")),
    b"td": _CELLS,
    b"th": _CELLS,
    b"tr": _CELLS | {b"tr"},
    **{heading: _HEADINGS for heading in _HEADINGS},
}


class _Stack:
    """The open elements as the scan sees them: names, with the positions of each name and of
    the scope boundaries so that every check is O(1) and every pop is paid for by its push."""

    def __init__(self) -> None:
        self.names: list[bytes] = []  # b"" where an element was taken out of the middle
        self.depth = 0
        self.at: dict[bytes, list[int]] = {}
        self.bounds: list[int] = []
        self.foreign: list[int] = []  # svg/math and their HTML integration points, in order

    def top(self) -> bytes:
        names = self.names
        while names and not names[-1]:
            names.pop()
        return names[-1] if names else b""

    def push(self, name: bytes) -> None:
        index = len(self.names)
        self.names.append(name)
        self.depth += 1
        self.at.setdefault(name, []).append(index)
        if name in _BOUNDARIES:
            self.bounds.append(index)
        if name in _FOREIGN_ROOTS or name in _HTML_POINTS:
            self.foreign.append(index)

    def pop_to(self, index: int) -> None:
        names = self.names
        while len(names) > index:
            name = names.pop()
            if name:
                self._forget(name, len(names))

    def take_out(self, index: int) -> None:
        name = self.names[index]
        self.names[index] = b""
        self._forget(name, index)

    def _forget(self, name: bytes, index: int) -> None:
        self.depth -= 1
        self.at[name].pop()
        if self.bounds and self.bounds[-1] == index:
            self.bounds.pop()
        if self.foreign and self.foreign[-1] == index:
            self.foreign.pop()

    def closable(self, name: bytes, allowed: frozenset[bytes] = frozenset()) -> int:
        """Position of the open `name` an end tag closes, -1 when a boundary is in the way."""
        at = self.at.get(name)
        if not at:
            return -1
        index = at[-1]
        for bound in reversed(self.bounds):
            if bound <= index:
                break
            if self.names[bound] not in allowed:
                return -1
        return index

    def in_foreign(self) -> bool:
        return bool(self.foreign) and self.names[self.foreign[-1]] in _FOREIGN_ROOTS


_LT = np.uint8(ord("<"))


def _tags(document: bytes) -> int:
    """The number of `<` in `document`: numpy counts them a vector at a time, a third of the
    cost of bytes.count, which every page of more than 12 KB pays."""
    return int(np.count_nonzero(np.frombuffer(document, np.uint8) == _LT))


def too_deep_at(document: bytes, max_depth: int) -> int:
    """Offset of the tag that opens an element deeper than `max_depth`, or -1."""
    if len(document) < 3 * SAFE_TAGS or _tags(document) < SAFE_TAGS:
        return -1  # (a tag takes at least 3 bytes)
    stack = _Stack()
    search = _TOKEN.search
    match = search(document)
    while match is not None:
        if match["leaf"] is not None:
            if not stack.foreign and stack.depth < max_depth:
                match = search(document, match.end())
                continue  # it leaves the stack as it was (or deeper: it ends no open <p>)
            match = _TAG_AT.match(document, match.start())  # in svg it may end the svg
            assert match is not None
        raw_name = match["name"]
        if raw_name is None:  # a comment
            match = search(document, match.end())
            continue
        name = raw_name.lower()
        if match["end"]:
            _end_tag(stack, name)
        elif name not in _VOID and not (name == b"form" and stack.at.get(name)):
            foreign = bool(stack.foreign) and stack.in_foreign()
            if foreign and name in _BREAKOUT:
                stack.pop_to(stack.foreign[-1])
                foreign = stack.in_foreign()
            if foreign and match["attrs"].endswith(b"/"):
                pass  # <path/> in svg is complete; in HTML, <div/> is not
            else:
                _implied_ends(stack, name)
                if stack.depth >= max_depth:
                    return match.start()
                stack.push(name)
                if not foreign:
                    if name == b"plaintext":
                        return -1  # the rest of the document is text
                    end = _RAW_TEXT.get(name)
                    if end is not None:
                        closing = end.search(document, match.end())
                        if closing is None:
                            return -1
                        match = search(document, closing.start())
                        continue
        match = search(document, match.end())
    return -1


def _implied_ends(stack: _Stack, name: bytes) -> None:
    top = stack.top()
    if (top == b"p" and name in _CLOSES_P) or top in _CLOSES_CURRENT.get(name, ()):
        stack.pop_to(len(stack.names) - 1)
        if name == b"tr" and stack.top() == b"tr":  # a <tr> after a <td> ends the cell and row
            stack.pop_to(len(stack.names) - 1)
    elif name in (b"a", b"nobr"):
        index = stack.closable(name)
        if index >= 0:
            stack.take_out(index)  # an <a> inside an <a> ends the outer one
    elif name == b"button":
        index = stack.closable(name)
        if index >= 0:
            stack.pop_to(index)  # a <button> inside a <button> ends the outer one


def _end_tag(stack: _Stack, name: bytes) -> None:
    names = stack.names
    if names and names[-1] == name:  # the usual case: it ends the current element
        stack.pop_to(len(names) - 1)
        return
    if name in _FORMATTING:
        index = stack.closable(name)
        if index >= 0:
            # Misnested formatting (<b><p></b>) ends only itself: what it holds stays open.
            if index == len(stack.names) - 1:
                stack.pop_to(index)
            else:
                stack.take_out(index)
        return
    allowed = _TABLE_PARTS if name == b"table" else frozenset()
    if name in (b"tr", b"tbody", b"thead", b"tfoot"):
        allowed = _TABLE_PARTS
    index = stack.closable(name, allowed)
    if index >= 0:
        stack.pop_to(index)
