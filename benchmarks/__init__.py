"""Benchmarks of linkgraph. `python -m benchmarks` (or `make bench`) runs the crawl benchmark."""
