-- The texts, like the chunks, compressed with lz4 rather than the default
-- pglz: pglz compressing each append's texts took a tenth of the machine's
-- time under the ingest benchmark (200 hosts, 20 MB/s), lz4 a fraction of
-- it. New partitions of texts take their column's compression from texts;
-- the existing ones are not changed with it. Rows stored before stay as
-- they are: each value says how it is compressed.
ALTER TABLE texts_recent ALTER COLUMN body SET COMPRESSION lz4;
ALTER TABLE texts ALTER COLUMN body SET COMPRESSION lz4;
DO $$
DECLARE
    p regclass;
BEGIN
    FOR p IN SELECT inhrelid::regclass FROM pg_inherits WHERE inhparent = 'texts'::regclass LOOP
        EXECUTE format('ALTER TABLE %s ALTER COLUMN body SET COMPRESSION lz4', p);
    END LOOP;
END $$;
ALTER TABLE command_log_chunks ALTER COLUMN data SET COMPRESSION lz4;
