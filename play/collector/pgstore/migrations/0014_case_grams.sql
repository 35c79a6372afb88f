-- Each row of texts keeps a Bloom filter of its case-sensitive grams
-- beside the lower-case ones it is indexed by (grams.go says why), and
-- texts_recent the case-sensitive grams of each append, from which the
-- fold takes both, as bytes: three per gram, distinct, in any order, not
-- compressed (they would not be). The rows of texts stored before get no
-- filter (a search checks their bodies, as it did): computing it here
-- would read every body. texts_recent's grams, few, are taken again from
-- their bodies: words as migration 0012 split them, grams as migration
-- 0013 took them, without lower-casing.
CREATE FUNCTION pg_temp.grams(body text) RETURNS bytea LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT coalesce(string_agg(DISTINCT substring(b FROM i + 1 FOR 3), ''::bytea), ''::bytea)
        FROM regexp_split_to_table(body, '[\x01-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f]+') AS w, convert_to(E'\n' || w || E'\n', 'UTF8') AS b,
            generate_series(0, length(b) - 3) AS i
        WHERE w <> ''
$$;
ALTER TABLE texts_recent ALTER COLUMN grams TYPE bytea USING pg_temp.grams(body), ALTER COLUMN grams SET STORAGE EXTERNAL;
DROP FUNCTION pg_temp.grams(text);

ALTER TABLE texts ADD COLUMN case_bloom bit(262144), ALTER COLUMN case_bloom SET STORAGE EXTERNAL;
