"""Item pipelines, in the order a page passes through them:
extraction (the one parse) -> frontier (queue what it links to) -> warc -> clickhouse (record)."""
