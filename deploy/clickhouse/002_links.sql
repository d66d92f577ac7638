-- Create `links`, the other raw fact: one row per link occurrence per fetch of its source page.

-- A page's links carry its fetch time, so (src_url, fetched_at) names the fetch they came from.
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
