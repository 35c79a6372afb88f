-- What hosts ship of their own retention (vigil-ship; rec/spec/purge.md
-- §8): their purge records, and the legal holds they have in force.

-- A host's purge record, byte for byte: a copy off the host, so that
-- deleting or rewriting it there shows. Stored only once it verified
-- against the host's enrolled keys; never rewritten.
CREATE TABLE host_purges (
    host_id     bigint NOT NULL REFERENCES hosts (id),
    name        text NOT NULL, -- its file name in the host's purged/
    seq         bigint NOT NULL, -- what the record says
    record      bytea NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (host_id, name)
);

-- A legal hold placed on the host (holds/<rec>.json): the collector's purge
-- keeps the host's recording with that rec id while it is in force. The
-- host says which are in force; one it no longer has is released. Rows
-- stay, for the record.
CREATE TABLE host_holds (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id     bigint NOT NULL REFERENCES hosts (id),
    rec         text NOT NULL,
    file        text NOT NULL, -- the path the hold names on the host
    reason      text NOT NULL,
    held_by     text NOT NULL,
    held_at     timestamptz NOT NULL, -- the host's "since"
    received_at timestamptz NOT NULL DEFAULT now(),
    released_at timestamptz -- when the host no longer had it
);
CREATE UNIQUE INDEX host_holds_in_force ON host_holds (host_id, rec) WHERE released_at IS NULL;
