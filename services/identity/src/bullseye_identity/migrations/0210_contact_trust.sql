-- Whether a contact came from a verified source (receipt.trust): only a verified source's
-- later claim to an address takes it from another person (see vault/contacts.py). Contacts
-- recorded before trust levels existed were taken as verified, which is how a rebuild
-- reads their events again (receipt.trust unset).
ALTER TABLE contacts ADD COLUMN verified boolean NOT NULL DEFAULT true;
