-- How far each key's source is trusted (domain/keys.py `Trust`): stamped on every event it
-- sends (receipt.trust). Keys made before this existed were anyone's: unverified.
ALTER TABLE api_keys ADD COLUMN trust text NOT NULL DEFAULT 'unverified'
    CHECK (trust IN ('unverified', 'verified'));
