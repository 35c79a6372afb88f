-- Legal holds and purge records (`vigil-collector holds`, `purge`,
-- `purges`; rec/spec/purge.md §7).

-- A legal hold on a recording: purge keeps it until it is released.
-- Released holds stay, for the record. No foreign key: the history
-- outlives the recording, which a purge after the release deletes; host
-- and file name it then.
CREATE TABLE holds (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    recording_id bigint NOT NULL, -- recordings.id
    host         text NOT NULL,
    file         text NOT NULL,
    reason       text NOT NULL,
    held_by      text NOT NULL,
    held_at      timestamptz NOT NULL DEFAULT now(),
    released_by  text,
    released_at  timestamptz,
    CHECK ((released_by IS NULL) = (released_at IS NULL))
);
-- One hold in force per recording.
CREATE UNIQUE INDEX holds_in_force ON holds (recording_id) WHERE released_at IS NULL;
CREATE INDEX holds_name ON holds (host, file);

-- A purge run's signed record of what it deleted. record is the signed
-- line, byte for byte; the other columns repeat what it says, for queries,
-- and are checked against it.
CREATE TABLE purges (
    seq       bigint PRIMARY KEY CHECK (seq > 0), -- 1, 2, ...: the record's seq
    purged_at timestamptz NOT NULL,
    purged_by text NOT NULL,
    cutoff    timestamptz NOT NULL, -- the months that ended by then were purged
    record    bytea NOT NULL
);
