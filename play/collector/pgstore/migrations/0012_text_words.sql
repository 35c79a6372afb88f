-- The trigram index moves from the texts' bodies to their distinct words
-- (words.go says why): each row of texts and texts_recent gets its words,
-- "\nw1\nw2\n", words being the runs of characters that are not ASCII
-- punctuation, space or control. The rows stored before get theirs here,
-- not deduplicated (the same trigrams, only more bytes), in one pass that
-- rebuilds the index: on a big database this migration takes as long as
-- indexing its texts did.
ALTER TABLE texts_recent ADD COLUMN words text COMPRESSION lz4;
UPDATE texts_recent SET words = E'\n' || regexp_replace(body, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', E'\n', 'g') || E'\n';
ALTER TABLE texts_recent ALTER COLUMN words SET NOT NULL;

DROP INDEX texts_body;
ALTER TABLE texts ADD COLUMN words text COMPRESSION lz4;
UPDATE texts SET words = E'\n' || regexp_replace(body, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+', E'\n', 'g') || E'\n';
ALTER TABLE texts ALTER COLUMN words SET NOT NULL;
CREATE INDEX texts_words ON texts USING gin (words gin_trgm_ops);
