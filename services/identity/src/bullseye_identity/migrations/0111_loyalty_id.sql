-- Loyalty (membership) card numbers are identifiers too: a till's customer may have no other.
ALTER TABLE identifiers DROP CONSTRAINT identifiers_id_type_check;
ALTER TABLE identifiers ADD CONSTRAINT identifiers_id_type_check
    CHECK (id_type IN ('user_id', 'loyalty_id', 'email', 'phone', 'device_id', 'anonymous_id'));
