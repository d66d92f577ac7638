-- Create `page_fetches`: every fetch of a page with the fetch before it, for link history.

-- Link history across crawls compares each fetch of a page with the page's previous fetch (any
-- job). prev_fetched_at is 1970-01-01 when there is none.
-- On a cluster each shard joins its own fetches: `pages` is sharded by domain, so every fetch of
-- a URL is on the shard of its domain, and the right side is that shard's `pages_local` (a plain
-- JOIN over two Distributed tables fails with Code 288; GLOBAL would send all of `pages` to
-- every shard).
CREATE VIEW IF NOT EXISTS page_fetches ON CLUSTER '{cluster}' AS
SELECT
    f.job AS job,
    f.url AS url,
    f.host AS host,
    f.domain AS domain,
    f.fetched_at AS fetched_at,
    f.status AS status,
    f.noindex AS noindex,
    f.error AS error,
    f.location AS location,
    p.job AS prev_job,
    p.fetched_at AS prev_fetched_at,
    p.status AS prev_status,
    p.noindex AS prev_noindex
FROM pages AS f
ASOF LEFT JOIN pages_local AS p ON p.url = f.url AND f.fetched_at > p.fetched_at;
