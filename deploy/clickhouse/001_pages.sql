-- Create `pages`, the raw fact of the crawl: one row per fetch attempt.

-- A response, a redirect, an error, or a refusal (robots.txt, private address). Everything else
-- is derived from `pages` and `links`. Times are UTC with millisecond precision; hosts are ASCII
-- lowercase without port; domains are registered domains (public suffix list, private suffixes
-- included).
CREATE TABLE IF NOT EXISTS pages
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
ENGINE = MergeTree
ORDER BY (domain, host, url, fetched_at);
