-- A plain table for the bulk_upsert tests.
CREATE TABLE widgets (
    id int PRIMARY KEY,
    name text NOT NULL,
    qty int NOT NULL
);
