-- Messages a worker dead-lettered because they failed on their own: a database refusal that retrying alone did not
-- clear, or a delivery seen too often without an acknowledgement. `schoolict dead list` shows the stored code and
-- reason beside the dead letter (its processing_failed outcome row is transient and deleted once published).
-- Nothing personal: the message's id and where it came from, a rejection code, a short reason (SQLSTATE and
-- constraint name, or the delivery count), never the body or the server's message. Deleted after RETENTION_DAYS.
CREATE TABLE message_failures (
    id          bigserial PRIMARY KEY,
    queue       text NOT NULL,
    stream      text NOT NULL,
    message_id  text NOT NULL,
    routing_key text NOT NULL,
    code        text NOT NULL,
    reason      text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_failures_message ON message_failures (queue, message_id, failed_at DESC);
CREATE INDEX message_failures_age ON message_failures (failed_at);
