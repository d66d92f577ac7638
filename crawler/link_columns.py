"""The `links` rows of a batch of pages built as Arrow columns, a column at a time: what
`ingest-warc`'s workers send (crawler/warc/ingest.py), the same stream, byte for byte, as
`arrow_stream(links, LINK_SCHEMA)` makes of the rows `rows_of` builds (crawler/rows.py).

`rows_of` builds a 15-value tuple per link, six of whose values are its page's, and the
encoding takes each column back out of them. Here a page's values are taken once and repeated
in C (an Arrow `take` of each link's page), the dictionary columns numbering their distinct
values in the order the rows would have met them; the links' own values come straight from the
extraction's `Link` tuples, a column a C loop, and their targets' hosts and domains from the
memo (crawler/linkcache.py), once per distinct origin of the batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from crawler.columnar import LINK_SCHEMA, arrow_stream, record_stream
from crawler.items import Link
from crawler.linkcache import DESTINATIONS
from crawler.rows import REL_FLAGS, TIME_COLUMN, PageRow, as_millis, rel_flags

# The link columns a page gives each of its links, by the page row's field of the same value.
_FROM_PAGE = {
    "job": "job",
    "src_url": "url",
    "src_host": "host",
    "src_domain": "domain",
    "page_nofollow": "nofollow",
    "fetched_at": "fetched_at",
}
_PAGE_FIELDS = {name: PageRow._fields.index(field) for name, field in _FROM_PAGE.items()}

_REL_COLUMNS = ("nofollow", "ugc", "sponsored")  # in the order of rows.py's rel flags


class LinkColumns:
    """The links of a batch's pages as the extraction left them, with their pages' rows, until
    `stream` encodes them."""

    __slots__ = ("counts", "links", "sources")

    def __init__(self) -> None:
        self.sources: list[PageRow] = []  # the pages with links, in order
        self.counts: list[int] = []  # ... and their numbers of links
        self.links: list[Link] = []

    def __len__(self) -> int:
        return len(self.links)

    def add(self, page: PageRow, links: Sequence[Link]) -> None:
        if links:
            self.sources.append(page)
            self.counts.append(len(links))
            self.links.extend(links)

    def stream(self) -> bytes:
        """The links' rows as one Arrow IPC stream of LINK_SCHEMA."""
        links = self.links
        if not links:
            return arrow_stream([], LINK_SCHEMA)
        page_of_link = pa.array(np.repeat(np.arange(len(self.sources)), self.counts))
        # The links' fields, a tuple each: transposed in C, not a Python step per link.
        by_field = dict(zip(Link._fields, zip(*links, strict=True), strict=True))
        urls, rels = by_field["url"], by_field["rel"]
        # Each link's (nofollow, ugc, sponsored) from the rows' memo, then a column each.
        flags = list(map(REL_FLAGS.get, rels))
        if None in flags:
            flags = [f or rel_flags(r) for r, f in zip(rels, flags, strict=True)]
        by_rel = dict(zip(_REL_COLUMNS, zip(*flags, strict=True), strict=True))
        dst_url = pa.array(urls, pa.string())
        # Each distinct origin (Destinations.key: "scheme://authority", a canonical URL's first
        # three "/"-separated parts) looked up once, then spread in C.
        parts = pc.split_pattern(dst_url, pattern="/", max_splits=3)
        scheme, authority = pc.list_element(parts, 0), pc.list_element(parts, 2)
        origins = pc.dictionary_encode(pc.binary_join_element_wise(scheme, authority, "//"))
        known, destination = DESTINATIONS.get, DESTINATIONS.of
        targets = [known(o) or destination(o) for o in origins.dictionary.to_pylist()]
        arrays: list[pa.Array] = []
        for column in LINK_SCHEMA:
            name, kind = column.name, column.type
            if name in _PAGE_FIELDS:
                arrays.append(self._repeated(name, kind, page_of_link))
            elif name == "dst_url":
                arrays.append(dst_url)
            elif name in ("dst_host", "dst_domain"):
                which = 0 if name == "dst_host" else 1
                values = pa.array([target[which] for target in targets], kind)
                arrays.append(values.take(origins.indices))
            elif name in by_rel:
                arrays.append(pa.array(by_rel[name], kind))
            else:  # anchor, tag, type: the Link's field of the same name
                arrays.append(pa.array(by_field[name], kind))
        return record_stream(pa.RecordBatch.from_arrays(arrays, schema=LINK_SCHEMA))

    def _repeated(self, name: str, kind: pa.DataType, page_of_link: pa.Array) -> pa.Array:
        """A column of a page's value for each of its links. A dictionary column numbers its
        values in the order the links meet them, as one built from the rows would: the pages'
        values in the pages' order."""
        values = tuple(map(itemgetter(_PAGE_FIELDS[name]), self.sources))
        if name == TIME_COLUMN:
            values = as_millis(values)
        return pa.array(values, kind).take(page_of_link)
