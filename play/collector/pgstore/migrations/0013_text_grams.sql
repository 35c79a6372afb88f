-- The index moves from pg_trgm on the texts' words to the grams of the
-- words, which the collector computes (grams.go says why): each row of
-- texts and texts_recent gets the sorted distinct int4 of every three
-- consecutive bytes of "\n" || word || "\n" for each of its words, ASCII
-- letters in lower case. The rows stored before get theirs here from their
-- words (migration 0012), in one pass that rebuilds the index: on a big
-- database this migration takes as long as indexing its texts did.
CREATE FUNCTION pg_temp.grams(words text) RETURNS int4[] LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(array_agg(DISTINCT get_byte(b, i) * 65536 + get_byte(b, i + 1) * 256 + get_byte(b, i + 2)
            ORDER BY get_byte(b, i) * 65536 + get_byte(b, i + 1) * 256 + get_byte(b, i + 2)), '{}')
        FROM regexp_split_to_table(words, E'\n') AS w, convert_to(E'\n' || translate(w, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') || E'\n', 'UTF8') AS b,
            generate_series(0, length(b) - 3) AS i
        WHERE w <> ''
$$;

ALTER TABLE texts_recent ADD COLUMN grams int4[] COMPRESSION lz4;
UPDATE texts_recent SET grams = pg_temp.grams(words);
ALTER TABLE texts_recent ALTER COLUMN grams SET NOT NULL, DROP COLUMN words;

DROP INDEX texts_words;
ALTER TABLE texts ADD COLUMN grams int4[] COMPRESSION lz4;
UPDATE texts SET grams = pg_temp.grams(words);
ALTER TABLE texts ALTER COLUMN grams SET NOT NULL, DROP COLUMN words;
CREATE INDEX texts_grams ON texts USING gin (grams);
DROP FUNCTION pg_temp.grams(text);
