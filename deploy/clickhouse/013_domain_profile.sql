-- Create `domain_profile`: the summary of a target domain's backlink profile, with its authority.

CREATE VIEW IF NOT EXISTS domain_profile AS
SELECT
    b.dst_domain AS domain,
    b.backlinks AS backlinks,
    b.follow_backlinks AS follow_backlinks,
    b.nofollow_backlinks AS nofollow_backlinks,
    b.ugc_backlinks AS ugc_backlinks,
    b.sponsored_backlinks AS sponsored_backlinks,
    b.follow_backlinks / b.backlinks AS follow_ratio,
    b.referring_domains AS referring_domains,
    b.follow_referring_domains AS follow_referring_domains,
    b.referring_hosts AS referring_hosts,
    b.referring_pages AS referring_pages,
    b.linked_pages AS linked_pages,
    i.institutional_referring_domains AS institutional_referring_domains,
    i.institutional_referring_domains / b.referring_domains AS institutional_share,
    b.first_seen AS first_seen,
    b.last_seen AS last_seen,
    r.authority AS authority,
    r.pagerank AS pagerank,
    r.harmonic AS harmonic
FROM
(
    SELECT
        dst_domain,
        count() AS backlinks,
        countIf(follow = 1) AS follow_backlinks,
        countIf(follow = 0) AS nofollow_backlinks,
        countIf(ugc = 1) AS ugc_backlinks,
        countIf(sponsored = 1) AS sponsored_backlinks,
        uniqExact(src_domain) AS referring_domains,
        uniqExactIf(src_domain, follow = 1) AS follow_referring_domains,
        uniqExact(src_host) AS referring_hosts,
        uniqExact(src_url) AS referring_pages,
        uniqExact(dst_url) AS linked_pages,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen
    FROM backlinks
    GROUP BY dst_domain
) AS b
INNER JOIN
(
    SELECT dst_domain, countIf(institutional = 1) AS institutional_referring_domains
    FROM referring_domains
    GROUP BY dst_domain
) AS i ON i.dst_domain = b.dst_domain
LEFT JOIN domain_rank AS r ON r.domain = b.dst_domain;
