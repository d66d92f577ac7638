-- Raw facts, one row per event; everything else is derived from these two tables.
-- Times are UTC with millisecond precision. Hosts are ASCII lowercase without port; domains are
-- registered domains (public suffix list, private suffixes included).

-- One row per fetch attempt: a response, a redirect, an error, or a robots.txt refusal.
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
    error        LowCardinality(String),    -- '' for a response, else why nothing was fetched
    location     String,                    -- a redirect's absolute target
    links        UInt32                     -- outbound link occurrences recorded for this fetch
)
ENGINE = MergeTree
ORDER BY (domain, host, url, fetched_at);

-- One row per link occurrence per fetch of its source page.
CREATE TABLE IF NOT EXISTS links
(
    job           LowCardinality(String),
    src_url       String,
    src_host      LowCardinality(String),
    src_domain    LowCardinality(String),
    dst_url       String,
    dst_host      String,
    dst_domain    String,
    anchor        String,
    tag           LowCardinality(String),   -- a, area, redirect
    nofollow      UInt8,
    ugc           UInt8,
    sponsored     UInt8,
    page_nofollow UInt8,
    fetched_at    DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY (dst_domain, dst_host, dst_url, src_url);
