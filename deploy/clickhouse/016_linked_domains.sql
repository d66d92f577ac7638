-- Create `linked_domains`: one row per (source domain, linked domain).

CREATE VIEW IF NOT EXISTS linked_domains AS
SELECT
    src_domain,
    dst_domain,
    count() AS links,
    countIf(follow = 1) AS follow_links,
    uniqExact(src_url) AS linking_pages,
    uniqExact(dst_url) AS linked_pages,
    min(first_seen) AS first_seen,
    max(last_seen) AS last_seen
FROM backlinks
GROUP BY src_domain, dst_domain;
