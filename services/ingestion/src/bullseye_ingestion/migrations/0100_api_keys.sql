-- Per-source API keys. Only a SHA-256 of the secret is kept; the key is shown once at creation.
CREATE TABLE api_keys (
    key_id text PRIMARY KEY,
    source text NOT NULL,
    secret_hash text NOT NULL,
    scopes text[] NOT NULL,
    rate double precision NOT NULL CHECK (rate > 0),
    burst double precision NOT NULL CHECK (burst >= 1),
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
