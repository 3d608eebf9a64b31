-- Every event goes out through the outbox relay: a batch is acknowledged once its effects and events are
-- committed, and the relay publishes them with confirms. Outcomes stay (marked published) so a duplicate gets its
-- stored outcome again; transient rows (a processing_failed outcome of a message not recorded as processed) are
-- deleted once published.
ALTER TABLE outbox ADD COLUMN transient boolean NOT NULL DEFAULT false;
