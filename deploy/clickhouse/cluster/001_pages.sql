-- Create `pages`, the raw fact of the crawl: one row per fetch attempt.

-- A response, a redirect, an error, or a refusal (robots.txt, private address). Everything else
-- is derived from `pages` and `links`. Times are UTC with millisecond precision; hosts are ASCII
-- lowercase without port; domains are registered domains (public suffix list, private suffixes
-- included).
-- On a cluster: `pages_local` on every node, replicated within its shard; `pages` the Distributed
-- table that inserts and reads go through, sharded by domain, so all fetches of a URL (and of its
-- host) live on one shard and page_fetches joins them there.
CREATE TABLE IF NOT EXISTS pages_local ON CLUSTER '{cluster}'
(
    job          LowCardinality(String),
    url          String,
    host         LowCardinality(String),
    domain       LowCardinality(String),
    status       UInt16,                    -- HTTP status, 0 when no response was received
    content_type LowCardinality(String),
    bytes        UInt32,
    depth        UInt16,
    fetched_at   DateTime64(3, 'UTC'),
    title        String,
    canonical    String,
    noindex      UInt8,                     -- meta robots / X-Robots-Tag noindex
    nofollow     UInt8,                     -- page-level nofollow: links recorded, not followed
    error        LowCardinality(String),    -- why nothing was fetched (status 0), or what of a response was left out
    location     String,                    -- a redirect's absolute target
    links        UInt32                     -- outbound link occurrences recorded for this fetch
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/pages_local', '{replica}')
ORDER BY (domain, host, url, fetched_at);

CREATE TABLE IF NOT EXISTS pages ON CLUSTER '{cluster}' AS pages_local
ENGINE = Distributed('{cluster}', currentDatabase(), pages_local, cityHash64(domain));
