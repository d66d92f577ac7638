-- Create `page_status`: the latest fetch of every URL the crawler recorded, and how many fetches.

CREATE VIEW IF NOT EXISTS page_status AS
SELECT
    p.url AS url,
    any(p.host) AS host,
    any(p.domain) AS domain,
    argMax(p.status, p.fetched_at) AS status,
    argMax(p.error, p.fetched_at) AS error,
    argMax(p.location, p.fetched_at) AS location,
    argMax(p.noindex, p.fetched_at) AS noindex,
    max(p.fetched_at) AS fetched_at,
    count() AS fetches
FROM pages AS p
GROUP BY p.url;
