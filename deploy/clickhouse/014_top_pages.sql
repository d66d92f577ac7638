-- Create `top_pages`: the pages of a target domain by the backlinks they receive ("best by links").

CREATE VIEW IF NOT EXISTS top_pages AS
SELECT
    dst_domain,
    dst_host,
    dst_url,
    count() AS backlinks,
    uniqExact(src_domain) AS referring_domains,
    countIf(follow = 1) AS follow_backlinks,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM backlinks
GROUP BY dst_domain, dst_host, dst_url;
