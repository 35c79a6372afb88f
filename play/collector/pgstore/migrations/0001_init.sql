-- Hosts, their signing keys, and the recordings they ship.

-- An enrolled host; name is what its recordings' "host" field says.
CREATE TABLE hosts (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text NOT NULL UNIQUE,
    enrolled_at timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz -- no longer accepted; what it sent stays
);

-- The ed25519 public keys a host's recorder signs with.
CREATE TABLE host_keys (
    host_id    bigint NOT NULL REFERENCES hosts (id),
    key_id     text NOT NULL, -- rec/keys.ID of public_key
    public_key bytea NOT NULL CHECK (length(public_key) = 32),
    added_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz, -- no longer trusted
    PRIMARY KEY (host_id, key_id)
);

-- One recording file of a host, described as rec/store.Summary describes
-- it, with the state rec/verify gives its bytes so far.
CREATE TABLE recordings (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    host_id    bigint NOT NULL REFERENCES hosts (id),
    file       text NOT NULL, -- its name on the host
    -- The partition of chunks holding its bytes: the month it started.
    month      date NOT NULL CHECK (extract(day FROM month) = 1),
    -- From its first message that decodes (described), and its last.
    described  boolean NOT NULL DEFAULT false,
    rec        text NOT NULL DEFAULT '',
    user_name  text NOT NULL DEFAULT '',
    term       text NOT NULL DEFAULT '',
    start_time timestamptz, -- null: unknown (format 2.2 has no wall clock)
    end_time   timestamptz,
    duration   double precision NOT NULL DEFAULT 0, -- seconds
    state      text NOT NULL DEFAULT '',
    detail     text NOT NULL DEFAULT '',
    last_hash  text NOT NULL DEFAULT '',
    report     json, -- json, not jsonb: kept as written, \u0000 included
    bytes      bigint NOT NULL DEFAULT 0, -- stored: the next append's offset
    lines      bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (host_id, file)
);
CREATE INDEX recordings_month ON recordings (month);
CREATE INDEX recordings_start ON recordings (start_time);
CREATE INDEX recordings_rec ON recordings (rec);

-- A recording's bytes, in the pieces they arrived in, each made of whole
-- lines. Partitioned by the recording's month so that retention drops
-- whole months. No foreign key to recordings: retention deletes a month's
-- recordings, then drops their partition, in one transaction; with a
-- foreign key the partition would have to go first, and an append holding
-- its recording's row while waiting for chunks would deadlock with it.
CREATE TABLE chunks (
    recording_id bigint NOT NULL,
    month        date NOT NULL, -- recordings.month
    off          bigint NOT NULL,
    -- lz4: several times faster than the default pglz, on writing and
    -- on reading, and recordings still shrink several times.
    data         bytea COMPRESSION lz4 NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (recording_id, off, month)
) PARTITION BY RANGE (month);
