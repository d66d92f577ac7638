-- Link history across crawls, computed from successive fetches of the same URL: each fetch of
-- a page is compared with the page's previous fetch (any job). A link of a fetch is live when
-- the fetch is not noindex; a page's first fetch makes all its live links new.

-- Every fetch of a page with the fetch before it (prev_fetched_at is 1970-01-01 when none).
CREATE VIEW IF NOT EXISTS page_fetches AS
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
ASOF LEFT JOIN pages AS p ON p.url = f.url AND f.fetched_at > p.fetched_at;

-- The distinct links of each fetch that counts: (src_url, fetched_at) identifies the fetch,
-- since a page's links carry its fetch time. Links on noindex pages do not count.
CREATE VIEW IF NOT EXISTS live_links AS
SELECT
    l.src_domain AS src_domain,
    l.src_host AS src_host,
    l.src_url AS src_url,
    l.fetched_at AS fetched_at,
    l.dst_domain AS dst_domain,
    l.dst_host AS dst_host,
    l.dst_url AS dst_url,
    any(l.job) AS job,
    arraySort(groupUniqArrayIf(l.anchor, l.anchor != '')) AS anchors,
    if(empty(anchors), '', anchors[1]) AS anchor,
    max(l.nofollow = 0 AND l.ugc = 0 AND l.sponsored = 0 AND l.page_nofollow = 0) AS follow
FROM links AS l
WHERE (l.src_url, l.fetched_at) NOT IN (SELECT url, fetched_at FROM pages WHERE noindex = 1)
GROUP BY l.src_domain, l.src_host, l.src_url, l.fetched_at, l.dst_domain, l.dst_host, l.dst_url;

-- Links that a fetch has and the page's previous fetch had not (or the page's first fetch).
CREATE VIEW IF NOT EXISTS new_links AS
SELECT
    c.dst_domain AS dst_domain,
    c.dst_host AS dst_host,
    c.dst_url AS dst_url,
    c.src_domain AS src_domain,
    c.src_host AS src_host,
    c.src_url AS src_url,
    c.anchor AS anchor,
    c.anchors AS anchors,
    c.follow AS follow,
    c.fetched_at AS seen_at,
    f.job AS job,
    f.prev_fetched_at AS prev_fetched_at
FROM live_links AS c
INNER JOIN page_fetches AS f ON f.url = c.src_url AND f.fetched_at = c.fetched_at
LEFT ANTI JOIN live_links AS p
    ON p.src_url = c.src_url AND p.fetched_at = f.prev_fetched_at AND p.dst_url = c.dst_url;

-- Links that a page's previous fetch had and its next fetch has not, with why:
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
