-- The texts of the latest appends, not indexed yet. Indexing each append's
-- texts on their own took the trigram index most of the ingest's time (a
-- row's distinct trigrams are its index entries: small rows, many entries
-- per byte); folded into texts a recording at a time, many appends in one
-- row, they cost a fraction. Searched by a scan, which folding every few
-- seconds keeps short. Not partitioned: retention deletes its rows.
CREATE TABLE texts_recent (
    recording_id bigint NOT NULL,
    month        date NOT NULL,
    off          bigint NOT NULL,
    body         text NOT NULL
);
