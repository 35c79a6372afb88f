-- A command log's bytes as the pieces that arrived, each stored once: a
-- bytea column appended to with data || $new is rewritten whole at every
-- append, which grows with the square of a long session's log.
CREATE TABLE command_log_chunks (
    host_id bigint NOT NULL,
    rec     text NOT NULL,
    off     bigint NOT NULL,
    data    bytea NOT NULL,
    PRIMARY KEY (host_id, rec, off),
    FOREIGN KEY (host_id, rec) REFERENCES command_logs (host_id, rec) ON DELETE CASCADE
);
INSERT INTO command_log_chunks (host_id, rec, off, data)
    SELECT host_id, rec, 0, data FROM command_logs WHERE size > 0;
ALTER TABLE command_logs DROP COLUMN data;
