-- Per-subject data keys, wrapped by the master key (never stored in the clear).
-- Shredding a subject sets `wrapped` to NULL: every ciphertext sealed under `key_id`, in
-- the log or anywhere it was copied, becomes unreadable (crypto-shredding).
CREATE TABLE data_keys (
    key_id      text PRIMARY KEY,
    subject     text NOT NULL UNIQUE,
    wrapped     bytea,
    created_at  timestamptz NOT NULL DEFAULT now(),
    shredded_at timestamptz,
    CHECK ((wrapped IS NULL) = (shredded_at IS NOT NULL))
);
