-- The person vault: contact points given by each subject, sealed with that subject's data
-- key (the address and first name are never stored in the clear). `address_hash` is the
-- keyed hash (HMAC) that finds the same address given by another subject.
CREATE TABLE contacts (
    subject       text NOT NULL,
    channel       text NOT NULL CHECK (channel IN ('email', 'sms')),
    address_hash  text NOT NULL,
    key_id        text NOT NULL,
    nonce         bytea NOT NULL,
    ciphertext    bytea NOT NULL,
    occurred_at   timestamptz NOT NULL,
    event_id      text NOT NULL,
    PRIMARY KEY (subject, channel, address_hash)
);

-- "Was this address given later by someone else?" at send time.
CREATE INDEX contacts_by_address ON contacts (channel, address_hash, occurred_at);
