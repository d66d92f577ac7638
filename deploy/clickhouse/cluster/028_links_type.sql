-- Change `links`: add `type`, what each link is (text, image, area, redirect, canonical, hreflang, frame, form).

-- `type` complements `tag` rather than replacing it: `tag` keeps saying which element carried the
-- link (a, area, link, frame, iframe, form; `header` for the Link header, `redirect` for a 3xx),
-- `type` says what the link is (crawler/items.py's LINK_TYPES); an image link and a text link
-- share the tag `a`, a frame and an iframe share the type `frame`.
-- Rows stored before this file read their type from their tag (a: text, area: area, redirect:
-- redirect) through the column's DEFAULT: the crawler then recorded no other kind of link, and
-- did not record whether an <a> held an image, so an image link stored then reads as `text`.
-- On a cluster the column is added to each node's `links_local` and to the Distributed `links`.
ALTER TABLE links_local ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS type LowCardinality(String) DEFAULT if(tag = 'a', 'text', tag) AFTER tag;

ALTER TABLE links ON CLUSTER '{cluster}'
    ADD COLUMN IF NOT EXISTS type LowCardinality(String) DEFAULT if(tag = 'a', 'text', tag) AFTER tag;
