-- Change `links`: remember the last 1000 inserts, so a batch inserted again is stored once.

-- As 024 does for `pages`.
ALTER TABLE links MODIFY SETTING non_replicated_deduplication_window = 1000;
