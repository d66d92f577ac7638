"""What an `ingest-warc` worker process loads: the modules it uses, not the crawler's.

Every worker starts a fresh interpreter (multiprocessing's spawn) and imports
crawler.warc.ingest; Scrapy, Twisted and redis would add a third of a second of CPU to each
start for nothing a WARC record needs. Scrapy is imported when a record does need it: a body
with a Content-Encoding, a sitemap, a robots.txt.
"""

from __future__ import annotations

import json
import subprocess
import sys

CRAWL_ONLY = ("scrapy", "twisted", "redis")


def _loaded_after(code: str) -> set[str]:
    """The top-level packages of the crawl's that a fresh interpreter has loaded after `code`."""
    probe = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                         check=True, timeout=60).stdout  # fmt: skip
    return {name.split(".")[0] for name in json.loads(out)} & set(CRAWL_ONLY)


def test_a_worker_starts_without_the_crawls_packages() -> None:
    start = (
        "from crawler.warc.ingest import quiet_collector\n"
        "from crawler.warc.pages import PageBuilder\n"
        "PageBuilder('job')\n"
        "quiet_collector()"
    )
    assert _loaded_after(start) == set()


def test_a_content_encoding_brings_in_scrapys_decoder() -> None:
    decode = (
        "import gzip\n"
        "from crawler.warc.pages import decoded\n"
        "body = decoded(gzip.compress(b'<p>x</p>'), [('Content-Encoding', 'gzip')], 10**6)\n"
        "assert body == b'<p>x</p>', body"
    )
    assert "scrapy" in _loaded_after(decode)
