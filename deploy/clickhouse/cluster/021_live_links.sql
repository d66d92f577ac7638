-- Create `live_links`: the distinct links of each fetch that counts, for link history.

-- (src_url, fetched_at) identifies the fetch, since a page's links carry its fetch time. A link
-- of a fetch is live when the fetch is not noindex.
-- On a cluster a page's links are spread over the shards of their targets, away from the page's
-- own row: the noindex fetches are read once and sent to every shard (GLOBAL NOT IN; a plain IN
-- over two Distributed tables fails with Code 288).
CREATE VIEW IF NOT EXISTS live_links ON CLUSTER '{cluster}' AS
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
WHERE (l.src_url, l.fetched_at) GLOBAL NOT IN (SELECT url, fetched_at FROM pages WHERE noindex = 1)
GROUP BY l.src_domain, l.src_host, l.src_url, l.fetched_at, l.dst_domain, l.dst_host, l.dst_url;
