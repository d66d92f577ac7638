-- Change `backlinks_state`: remember the last 1000 inserts, as `links` does (025).

-- A repeated insert into `links` still runs backlinks_mv; with a window of its own the state
-- table drops the view's repeated block too (deduplicate_blocks_in_dependent_materialized_views
-- is on by default). The aggregates were exact without it, since min, max and union merge a
-- repeated row away, but the repeated rows took space until a merge.
ALTER TABLE backlinks_state MODIFY SETTING non_replicated_deduplication_window = 1000;
