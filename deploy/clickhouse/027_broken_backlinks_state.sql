-- Change `broken_backlinks`: say whether each broken target is gone or unreachable.

-- The crawler fetches a target that failed transiently (a network failure, a 5xx, a 429) again,
-- a bounded number of times (LINKGRAPH_RETRY_TIMES), and records only its last attempt, so the
-- latest fetch is the verdict. `state` is:
-- - gone: it answered 404 or 410, or its host name does not exist (NXDOMAIN);
-- - unreachable: no answer (timeout, connection refused or lost, DNS errors other than
--   NXDOMAIN, a host dropped after failing in a row) or a server error (5xx, 408, 429);
-- - error: any other 4xx, or an invalid HTTP response (a broken status line, bad chunking).
-- A robots.txt that failed the same way ('robots: ' and the reason) counts as its page's.
CREATE OR REPLACE VIEW broken_backlinks AS
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
    p.fetched_at AS checked_at,
    multiIf(
        p.status IN (404, 410) OR p.error IN ('dns: no such name', 'robots: dns: no such name'),
        'gone',
        p.status >= 500 OR p.status IN (408, 429)
            OR (p.status = 0 AND NOT startsWith(p.error, 'invalid response')
                AND NOT startsWith(p.error, 'robots: invalid response')),
        'unreachable',
        'error'
    ) AS state
FROM backlinks AS b
INNER JOIN
(
    SELECT url, status, error, fetched_at
    FROM page_status
    WHERE status >= 400
       OR (status = 0 AND error NOT IN ('', 'robots') AND NOT startsWith(error, 'robots: HTTP ')
           AND NOT startsWith(error, 'refused') AND NOT startsWith(error, 'ignored'))
) AS p ON p.url = b.dst_url;
