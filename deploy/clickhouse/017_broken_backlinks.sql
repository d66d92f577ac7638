-- Create `broken_backlinks`: backlinks whose target's latest fetch failed.

-- Failed means it answered 4xx/5xx or failed on the network (DNS, connection, timeout; also when
-- robots.txt could not be fetched for that reason). URLs never fetched, refused by robots.txt
-- rules or by the private-address guard are not broken.
CREATE VIEW IF NOT EXISTS broken_backlinks AS
SELECT
    b.dst_domain AS dst_domain,
    b.dst_host AS dst_host,
    b.dst_url AS dst_url,
    b.src_domain AS src_domain,
    b.src_host AS src_host,
    b.src_url AS src_url,
    b.anchor AS anchor,
    b.follow AS follow,
    b.first_seen AS first_seen,
    b.last_seen AS last_seen,
    p.status AS status,
    p.error AS error,
    p.fetched_at AS checked_at
FROM backlinks AS b
INNER JOIN
(
    SELECT url, status, error, fetched_at
    FROM page_status
    WHERE status >= 400
       OR (status = 0 AND error NOT IN ('', 'robots') AND NOT startsWith(error, 'robots: HTTP ')
           AND NOT startsWith(error, 'refused') AND NOT startsWith(error, 'ignored'))
) AS p ON p.url = b.dst_url;
