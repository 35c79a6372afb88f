-- The command logs hosts ship beside their recordings (rec/spec/commands.md):
-- the exact bytes, appended as they arrive, and where their verified chain
-- ends (rec/commands.Chain), so that each append is checked without reading
-- the log again. Only lines that verify against the host's enrolled keys
-- are stored.
CREATE TABLE command_logs (
    host_id    bigint NOT NULL REFERENCES hosts (id),
    rec        text NOT NULL,
    data       bytea NOT NULL DEFAULT ''::bytea,
    size       bigint NOT NULL DEFAULT 0,
    lines      integer NOT NULL DEFAULT 0,
    seq        bigint NOT NULL DEFAULT 0,
    prev       text NOT NULL DEFAULT '',
    commands   integer NOT NULL DEFAULT 0,
    ended      boolean NOT NULL DEFAULT false,
    start_time timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, rec)
);
