-- The people and tools allowed to read recordings over HTTPS (vigil-play
-- --server), each known by the ed25519 key of its client certificate.
CREATE TABLE readers (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE,
    key_id     text NOT NULL, -- rec/keys.ID of public_key
    public_key bytea NOT NULL UNIQUE CHECK (length(public_key) = 32),
    added_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz -- no longer allowed to read
);
