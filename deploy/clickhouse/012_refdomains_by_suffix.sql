-- Create `refdomains_by_suffix`: a target's referring domains grouped by public suffix.

CREATE VIEW IF NOT EXISTS refdomains_by_suffix AS
SELECT
    dst_domain,
    suffix,
    tld,
    country_code,
    country,
    institutional,
    count() AS referring_domains,
    sum(backlinks) AS backlinks
FROM referring_domains
GROUP BY dst_domain, suffix, tld, country_code, country, institutional;
