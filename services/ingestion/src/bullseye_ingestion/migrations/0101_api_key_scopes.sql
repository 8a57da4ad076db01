-- Scopes are named as the protos declare them (bullseye.auth.v1.scope): a key's scopes are
-- checked by the same guard as every other credential's.
UPDATE api_keys
SET scopes = array_replace(array_replace(scopes, 'write', 'events:write'), 'backfill', 'events:backfill');
