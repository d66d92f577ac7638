-- The link index operators read: referring domains with authority and country, top pages,
-- outbound links, broken backlinks, latest page status, and per-domain profiles. All plain views
-- over `backlinks` (002) and `pages` (001), plus two small tables: `domain_rank`, written by
-- `linkgraph rank`, and `tld_countries`, static reference data.

-- Authority per registered domain; replaced as a whole by each `linkgraph rank` run.
-- Domains without a row (no followable cross-domain link in or out) read as 0 through joins.
CREATE TABLE IF NOT EXISTS domain_rank
(
    domain      String,
    pagerank    Float64,
    harmonic    Float64,
    authority   Float64,                 -- 0-100, log scale over the graph's pagerank range
    computed_at DateTime64(3, 'UTC')
)
ENGINE = MergeTree
ORDER BY domain;

-- Country-code TLDs (ISO 3166-1 alpha-2, plus uk and ac) and the country they belong to.
CREATE TABLE IF NOT EXISTS tld_countries
(
    tld          String,
    country_code String,
    country      String
)
ENGINE = MergeTree
ORDER BY tld;

-- The table is reference data: emptied first so a migration re-run never duplicates it.
TRUNCATE TABLE tld_countries;

INSERT INTO tld_countries (tld, country_code, country) VALUES
('ac','SH','Saint Helena, Ascension and Tristan da Cunha'),
('ad','AD','Andorra'),
('ae','AE','United Arab Emirates'),
('af','AF','Afghanistan'),
('ag','AG','Antigua and Barbuda'),
('ai','AI','Anguilla'),
('al','AL','Albania'),
('am','AM','Armenia'),
('ao','AO','Angola'),
('aq','AQ','Antarctica'),
('ar','AR','Argentina'),
('as','AS','American Samoa'),
('at','AT','Austria'),
('au','AU','Australia'),
('aw','AW','Aruba'),
('ax','AX','Åland Islands'),
('az','AZ','Azerbaijan'),
('ba','BA','Bosnia and Herzegovina'),
('bb','BB','Barbados'),
('bd','BD','Bangladesh'),
('be','BE','Belgium'),
('bf','BF','Burkina Faso'),
('bg','BG','Bulgaria'),
('bh','BH','Bahrain'),
('bi','BI','Burundi'),
('bj','BJ','Benin'),
('bl','BL','Saint Barthélemy'),
('bm','BM','Bermuda'),
('bn','BN','Brunei Darussalam'),
('bo','BO','Bolivia'),
('bq','BQ','Bonaire, Sint Eustatius and Saba'),
('br','BR','Brazil'),
('bs','BS','Bahamas'),
('bt','BT','Bhutan'),
('bv','BV','Bouvet Island'),
('bw','BW','Botswana'),
('by','BY','Belarus'),
('bz','BZ','Belize'),
('ca','CA','Canada'),
('cc','CC','Cocos (Keeling) Islands'),
('cd','CD','Congo, The Democratic Republic of the'),
('cf','CF','Central African Republic'),
('cg','CG','Congo'),
('ch','CH','Switzerland'),
('ci','CI','Côte d\'Ivoire'),
('ck','CK','Cook Islands'),
('cl','CL','Chile'),
('cm','CM','Cameroon'),
('cn','CN','China'),
('co','CO','Colombia'),
('cr','CR','Costa Rica'),
('cu','CU','Cuba'),
('cv','CV','Cabo Verde'),
('cw','CW','Curaçao'),
('cx','CX','Christmas Island'),
('cy','CY','Cyprus'),
('cz','CZ','Czechia'),
('de','DE','Germany'),
('dj','DJ','Djibouti'),
('dk','DK','Denmark'),
('dm','DM','Dominica'),
('do','DO','Dominican Republic'),
('dz','DZ','Algeria'),
('ec','EC','Ecuador'),
('ee','EE','Estonia'),
('eg','EG','Egypt'),
('eh','EH','Western Sahara'),
('er','ER','Eritrea'),
('es','ES','Spain'),
('et','ET','Ethiopia'),
('fi','FI','Finland'),
('fj','FJ','Fiji'),
('fk','FK','Falkland Islands (Malvinas)'),
('fm','FM','Micronesia, Federated States of'),
('fo','FO','Faroe Islands'),
('fr','FR','France'),
('ga','GA','Gabon'),
('gb','GB','United Kingdom'),
('gd','GD','Grenada'),
('ge','GE','Georgia'),
('gf','GF','French Guiana'),
('gg','GG','Guernsey'),
('gh','GH','Ghana'),
('gi','GI','Gibraltar'),
('gl','GL','Greenland'),
('gm','GM','Gambia'),
('gn','GN','Guinea'),
('gp','GP','Guadeloupe'),
('gq','GQ','Equatorial Guinea'),
('gr','GR','Greece'),
('gs','GS','South Georgia and the South Sandwich Islands'),
('gt','GT','Guatemala'),
('gu','GU','Guam'),
('gw','GW','Guinea-Bissau'),
('gy','GY','Guyana'),
('hk','HK','Hong Kong'),
('hm','HM','Heard Island and McDonald Islands'),
('hn','HN','Honduras'),
('hr','HR','Croatia'),
('ht','HT','Haiti'),
('hu','HU','Hungary'),
('id','ID','Indonesia'),
('ie','IE','Ireland'),
('il','IL','Israel'),
('im','IM','Isle of Man'),
('in','IN','India'),
('io','IO','British Indian Ocean Territory'),
('iq','IQ','Iraq'),
('ir','IR','Iran'),
('is','IS','Iceland'),
('it','IT','Italy'),
('je','JE','Jersey'),
('jm','JM','Jamaica'),
('jo','JO','Jordan'),
('jp','JP','Japan'),
('ke','KE','Kenya'),
('kg','KG','Kyrgyzstan'),
('kh','KH','Cambodia'),
('ki','KI','Kiribati'),
('km','KM','Comoros'),
('kn','KN','Saint Kitts and Nevis'),
('kp','KP','North Korea'),
('kr','KR','South Korea'),
('kw','KW','Kuwait'),
('ky','KY','Cayman Islands'),
('kz','KZ','Kazakhstan'),
('la','LA','Laos'),
('lb','LB','Lebanon'),
('lc','LC','Saint Lucia'),
('li','LI','Liechtenstein'),
('lk','LK','Sri Lanka'),
('lr','LR','Liberia'),
('ls','LS','Lesotho'),
('lt','LT','Lithuania'),
('lu','LU','Luxembourg'),
('lv','LV','Latvia'),
('ly','LY','Libya'),
('ma','MA','Morocco'),
('mc','MC','Monaco'),
('md','MD','Moldova'),
('me','ME','Montenegro'),
('mf','MF','Saint Martin (French part)'),
('mg','MG','Madagascar'),
('mh','MH','Marshall Islands'),
('mk','MK','North Macedonia'),
('ml','ML','Mali'),
('mm','MM','Myanmar'),
('mn','MN','Mongolia'),
('mo','MO','Macao'),
('mp','MP','Northern Mariana Islands'),
('mq','MQ','Martinique'),
('mr','MR','Mauritania'),
('ms','MS','Montserrat'),
('mt','MT','Malta'),
('mu','MU','Mauritius'),
('mv','MV','Maldives'),
('mw','MW','Malawi'),
('mx','MX','Mexico'),
('my','MY','Malaysia'),
('mz','MZ','Mozambique'),
('na','NA','Namibia'),
('nc','NC','New Caledonia'),
('ne','NE','Niger'),
('nf','NF','Norfolk Island'),
('ng','NG','Nigeria'),
('ni','NI','Nicaragua'),
('nl','NL','Netherlands'),
('no','NO','Norway'),
('np','NP','Nepal'),
('nr','NR','Nauru'),
('nu','NU','Niue'),
('nz','NZ','New Zealand'),
('om','OM','Oman'),
('pa','PA','Panama'),
('pe','PE','Peru'),
('pf','PF','French Polynesia'),
('pg','PG','Papua New Guinea'),
('ph','PH','Philippines'),
('pk','PK','Pakistan'),
('pl','PL','Poland'),
('pm','PM','Saint Pierre and Miquelon'),
('pn','PN','Pitcairn'),
('pr','PR','Puerto Rico'),
('ps','PS','Palestine, State of'),
('pt','PT','Portugal'),
('pw','PW','Palau'),
('py','PY','Paraguay'),
('qa','QA','Qatar'),
('re','RE','Réunion'),
('ro','RO','Romania'),
('rs','RS','Serbia'),
('ru','RU','Russian Federation'),
('rw','RW','Rwanda'),
('sa','SA','Saudi Arabia'),
('sb','SB','Solomon Islands'),
('sc','SC','Seychelles'),
('sd','SD','Sudan'),
('se','SE','Sweden'),
('sg','SG','Singapore'),
('sh','SH','Saint Helena, Ascension and Tristan da Cunha'),
('si','SI','Slovenia'),
('sj','SJ','Svalbard and Jan Mayen'),
('sk','SK','Slovakia'),
('sl','SL','Sierra Leone'),
('sm','SM','San Marino'),
('sn','SN','Senegal'),
('so','SO','Somalia'),
('sr','SR','Suriname'),
('ss','SS','South Sudan'),
('st','ST','Sao Tome and Principe'),
('sv','SV','El Salvador'),
('sx','SX','Sint Maarten (Dutch part)'),
('sy','SY','Syria'),
('sz','SZ','Eswatini'),
('tc','TC','Turks and Caicos Islands'),
('td','TD','Chad'),
('tf','TF','French Southern Territories'),
('tg','TG','Togo'),
('th','TH','Thailand'),
('tj','TJ','Tajikistan'),
('tk','TK','Tokelau'),
('tl','TL','Timor-Leste'),
('tm','TM','Turkmenistan'),
('tn','TN','Tunisia'),
('to','TO','Tonga'),
('tr','TR','Türkiye'),
('tt','TT','Trinidad and Tobago'),
('tv','TV','Tuvalu'),
('tw','TW','Taiwan'),
('tz','TZ','Tanzania'),
('ua','UA','Ukraine'),
('ug','UG','Uganda'),
('uk','GB','United Kingdom'),
('um','UM','United States Minor Outlying Islands'),
('us','US','United States'),
('uy','UY','Uruguay'),
('uz','UZ','Uzbekistan'),
('va','VA','Holy See (Vatican City State)'),
('vc','VC','Saint Vincent and the Grenadines'),
('ve','VE','Venezuela'),
('vg','VG','Virgin Islands, British'),
('vi','VI','Virgin Islands, U.S.'),
('vn','VN','Vietnam'),
('vu','VU','Vanuatu'),
('wf','WF','Wallis and Futuna'),
('ws','WS','Samoa'),
('ye','YE','Yemen'),
('yt','YT','Mayotte'),
('za','ZA','South Africa'),
('zm','ZM','Zambia'),
('zw','ZW','Zimbabwe');

-- The latest fetch of every URL the crawler recorded, with how many times it was fetched.
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

-- One row per (target domain, referring domain). The public suffix is what follows the
-- registered domain's first label (private suffixes included: alice.github.io -> github.io);
-- hosts without a registered domain (IP addresses, single labels) have none. Institutional
-- means .edu, .gov, edu.*, gov.* or ac.* (example.ac.uk, example.edu.au).
CREATE VIEW IF NOT EXISTS referring_domains AS
SELECT
    g.dst_domain AS dst_domain,
    g.src_domain AS src_domain,
    g.backlinks AS backlinks,
    g.follow_backlinks AS follow_backlinks,
    g.nofollow_backlinks AS nofollow_backlinks,
    g.ugc_backlinks AS ugc_backlinks,
    g.sponsored_backlinks AS sponsored_backlinks,
    g.referring_pages AS referring_pages,
    g.linked_pages AS linked_pages,
    g.first_seen AS first_seen,
    g.last_seen AS last_seen,
    g.suffix AS suffix,
    g.tld AS tld,
    c.country_code AS country_code,
    c.country AS country,
    g.institutional AS institutional,
    r.authority AS authority,
    r.pagerank AS pagerank
FROM
(
    SELECT
        dst_domain,
        src_domain,
        count() AS backlinks,
        countIf(follow = 1) AS follow_backlinks,
        countIf(follow = 0) AS nofollow_backlinks,
        countIf(ugc = 1) AS ugc_backlinks,
        countIf(sponsored = 1) AS sponsored_backlinks,
        uniqExact(src_url) AS referring_pages,
        uniqExact(dst_url) AS linked_pages,
        min(first_seen) AS first_seen,
        max(last_seen) AS last_seen,
        if(isIPv4String(src_domain) OR startsWith(src_domain, '[') OR position(src_domain, '.') = 0,
           '', substring(src_domain, position(src_domain, '.') + 1)) AS suffix,
        if(suffix = '', '', splitByChar('.', suffix)[-1]) AS tld,
        toUInt8(suffix IN ('edu', 'gov') OR startsWith(suffix, 'edu.')
                OR startsWith(suffix, 'gov.') OR startsWith(suffix, 'ac.')) AS institutional
    FROM backlinks
    GROUP BY dst_domain, src_domain
) AS g
LEFT JOIN tld_countries AS c ON c.tld = g.tld
LEFT JOIN domain_rank AS r ON r.domain = g.src_domain;

-- Referring domains of a target grouped by TLD; country is '' for generic TLDs.
CREATE VIEW IF NOT EXISTS refdomains_by_tld AS
SELECT
    dst_domain,
    tld,
    country_code,
    country,
    count() AS referring_domains,
    sum(backlinks) AS backlinks,
    countIf(institutional = 1) AS institutional_referring_domains
FROM referring_domains
GROUP BY dst_domain, tld, country_code, country;

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

-- The summary of a target domain's backlink profile, with its own authority.
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

-- Pages of a target domain by the backlinks they receive ("best by links").
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

-- Outbound cross-domain links of a source domain: the backlinks index read from its source
-- side (the projection by_source of backlinks_state keeps a filter on src_domain fast).
CREATE VIEW IF NOT EXISTS outlinks AS
SELECT
    src_domain, src_host, src_url, dst_domain, dst_host, dst_url,
    anchor, anchors, follow, nofollow, ugc, sponsored, first_seen, last_seen
FROM backlinks;

-- One row per (source domain, linked domain).
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

-- Backlinks whose target's latest fetch answered 4xx/5xx or failed on the network (DNS,
-- connection, timeout; also when robots.txt could not be fetched for that reason). URLs never
-- fetched, refused by robots.txt rules or by the private-address guard are not broken.
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

-- Link intersect, a parameterized view: domains linking to at least `min_count` of the
-- `competitors` but not to `target`.
-- SELECT * FROM link_intersect(target = 'a.com', competitors = ['b.com', 'c.com'], min_count = 2)
CREATE VIEW IF NOT EXISTS link_intersect AS
SELECT
    src_domain,
    uniqExact(dst_domain) AS competitors_linked,
    arraySort(groupUniqArray(dst_domain)) AS competitors,
    count() AS backlinks,
    countIf(follow = 1) AS follow_backlinks
FROM backlinks
WHERE dst_domain IN {competitors:Array(String)}
  AND src_domain != {target:String}
  AND src_domain NOT IN (SELECT src_domain FROM backlinks_state WHERE dst_domain = {target:String})
GROUP BY src_domain
HAVING competitors_linked >= {min_count:UInt32};
