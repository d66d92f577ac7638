-- Create `new_links`: links a fetch has and the page's previous fetch had not.

-- A page's first fetch makes all its live links new.
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
