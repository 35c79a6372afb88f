-- One-time enrollment tokens (`vigil-collector hosts add`): a host proves
-- it was meant to enroll a key by presenting one, once, before it expires.
CREATE TABLE enroll_tokens (
    -- SHA-256 of the token: the database never holds what would let its
    -- reader enroll a key.
    token_hash bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    host_id    bigint NOT NULL REFERENCES hosts (id),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz, -- set once, in the transaction adding the key
    key_id     text         -- the key it enrolled
);
CREATE INDEX enroll_tokens_host ON enroll_tokens (host_id);
