-- Change `pages`: add `warc_file` and `warc_offset`, where each fetch's WARC record is.

-- Written by a crawl with --warc (the response, or the revisit of a payload archived before) and
-- by `linkgraph ingest-warc` (the record the page was read from); `linkgraph warc URL` reads the
-- record there. Rows of fetches not archived keep '' and 0.
-- On a cluster the columns are added to each node's `pages_local` and to the Distributed `pages`.
ALTER TABLE pages_local ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS warc_file String DEFAULT '',
    ADD COLUMN IF NOT EXISTS warc_offset UInt64 DEFAULT 0;

ALTER TABLE pages ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS warc_file String DEFAULT '',
    ADD COLUMN IF NOT EXISTS warc_offset UInt64 DEFAULT 0;
