-- A plain table for the bulk_upsert tests (edited: a column was added after it was applied).
CREATE TABLE widgets (
    id int PRIMARY KEY,
    name text NOT NULL,
    qty int NOT NULL,
    colour text
);
