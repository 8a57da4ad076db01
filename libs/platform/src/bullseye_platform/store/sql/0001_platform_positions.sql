-- Where each projection is in each partition of the stream it reads. Written in the same
-- transaction as the projection's effects: that is what makes projections exactly-once.
CREATE TABLE projection_positions (
    projection text NOT NULL,
    partition int NOT NULL,
    stream_seq bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, partition)
);

-- Records a projection could not apply (a bug or bad data), set aside so the partition
-- keeps moving; an operator replays them after a fix.
CREATE TABLE projection_dead_letters (
    projection text NOT NULL,
    partition int NOT NULL,
    stream_seq bigint NOT NULL,
    subject text NOT NULL,
    error text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (projection, stream_seq)
);
