-- Create `domain_rank`, the authority of each registered domain, written by `linkgraph rank`.

-- Replaced as a whole by each `linkgraph rank` run. Domains without a row (no followable
-- cross-domain link in or out) read as 0 through joins.
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
