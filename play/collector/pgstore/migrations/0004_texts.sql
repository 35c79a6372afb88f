-- What search looks for in each recording: the texts play/search checks
-- (screen lines as they change and leave, typed lines), joined by newlines,
-- one row per append, indexed by trigrams. They tell which recordings a
-- text may be found in; the recordings themselves are then searched.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE texts (
    recording_id bigint NOT NULL,
    month        date NOT NULL, -- recordings.month: retention drops both
    off          bigint NOT NULL, -- the chunk the texts came from
    body         text NOT NULL
) PARTITION BY RANGE (month);
CREATE INDEX texts_body ON texts USING gin (body gin_trgm_ops);
CREATE INDEX texts_recording ON texts (recording_id);

-- The months that have recordings get their partition of texts; the texts
-- of what was stored before stay unknown (those recordings are searched).
DO $$
DECLARE
    m date;
BEGIN
    FOR m IN SELECT DISTINCT month FROM recordings LOOP
        EXECUTE format('CREATE TABLE IF NOT EXISTS texts_%s PARTITION OF texts FOR VALUES FROM (%L) TO (%L)',
            to_char(m, 'YYYY_MM'), m, m + interval '1 month');
    END LOOP;
END $$;

-- How many bytes of each recording its texts cover: a recording stored
-- before the index is searched whatever its texts say.
ALTER TABLE recordings ADD COLUMN texts_from bigint NOT NULL DEFAULT 0;
UPDATE recordings SET texts_from = bytes;
