-- Create `refdomain_changes`: the referring domains each job gained (new) and lost for a domain.

-- A domain refers to another while at least one live link goes from a page of the one to the
-- other. A pair's live links at any time are the running sum of its new links (+1) and lost
-- links (-1), so a job's own link changes to a pair move it from `before` (its live links just
-- before the job's first change to it) to `before + net`: a referring domain is new when that
-- goes from none to some, lost when from some to none. `backlinks` is the live links after a
-- gain or before a loss; `reasons` those of the lost links (see `lost_links`). A page a
-- re-crawl did not fetch again keeps its links: the pair stays referring.
CREATE VIEW IF NOT EXISTS refdomain_changes AS
WITH link_deltas AS (
    SELECT job, dst_domain, src_domain, seen_at AS at, 1 AS delta, '' AS reason
    FROM new_links WHERE src_domain != dst_domain
    UNION ALL
    SELECT job, dst_domain, src_domain, lost_at AS at, -1 AS delta, reason
    FROM lost_links WHERE src_domain != dst_domain
)
SELECT
    job,
    if(before > 0, 'lost', 'new') AS change,
    if(before > 0, last_at, first_at) AS at,
    dst_domain,
    src_domain,
    if(before > 0, before, before + net) AS backlinks,
    if(before > 0, reasons, []) AS reasons
FROM (
    SELECT
        x.job AS job,
        x.dst_domain AS dst_domain,
        x.src_domain AS src_domain,
        any(x.first_at) AS first_at,
        any(x.last_at) AS last_at,
        any(x.net) AS net,
        any(x.reasons) AS reasons,
        sumIf(e.delta, e.at < x.first_at) AS before
    FROM (
        SELECT job, dst_domain, src_domain, min(at) AS first_at, max(at) AS last_at,
            sum(delta) AS net, arraySort(groupUniqArrayIf(reason, delta < 0)) AS reasons
        FROM link_deltas GROUP BY job, dst_domain, src_domain
    ) AS x
    INNER JOIN link_deltas AS e ON e.dst_domain = x.dst_domain AND e.src_domain = x.src_domain
    GROUP BY x.job, x.dst_domain, x.src_domain
)
WHERE (before > 0) != (before + net > 0);
