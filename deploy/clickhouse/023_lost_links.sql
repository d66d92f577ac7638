-- Create `lost_links`: links a page's previous fetch had and its next fetch has not, with why.

-- page_404 / page_410 (the page is gone), page_redirects, fetch_failed (no response, or any
-- other 4xx/5xx; `detail` says which), page_noindex, link_removed (the page no longer links).
CREATE VIEW IF NOT EXISTS lost_links AS
SELECT
    p.dst_domain AS dst_domain,
    p.dst_host AS dst_host,
    p.dst_url AS dst_url,
    p.src_domain AS src_domain,
    p.src_host AS src_host,
    p.src_url AS src_url,
    p.anchor AS anchor,
    p.anchors AS anchors,
    p.follow AS follow,
    p.fetched_at AS last_seen,
    f.fetched_at AS lost_at,
    f.job AS job,
    multiIf(
        f.status = 404, 'page_404',
        f.status = 410, 'page_410',
        f.status >= 300 AND f.status < 400, 'page_redirects',
        f.status = 0 OR f.status >= 400, 'fetch_failed',
        f.noindex = 1, 'page_noindex',
        'link_removed') AS reason,
    multiIf(
        f.status = 0, f.error,
        f.status >= 300 AND f.status < 400, f.location,
        f.status >= 400, concat('HTTP ', toString(f.status)),
        '') AS detail
FROM live_links AS p
INNER JOIN page_fetches AS f ON f.url = p.src_url AND f.prev_fetched_at = p.fetched_at
LEFT ANTI JOIN live_links AS c
    ON c.src_url = p.src_url AND c.fetched_at = f.fetched_at AND c.dst_url = p.dst_url;
