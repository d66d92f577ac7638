"""Web archives in and out: WARC files written as a crawl fetches (crawler/middlewares/capture.py
and crawler/warc/files.py), and the link index built from WARC files without fetching
(crawler/warc/ingest.py)."""
