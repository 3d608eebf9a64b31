-- A processed message's claim and its stored outcome are one row; the outbox is only the relay's queue.
--
-- Before, each processed submission cost a claim row, an outbox row with three index entries, and an UPDATE
-- marking it published (a new row version and two more index entries) that stayed until retention. Now the claim
-- holds the outcome a duplicate delivery gets again, and the relay deletes outbox rows once the broker confirmed
-- them. Every outbox row is waiting to be published.
ALTER TABLE processed_messages
    ADD COLUMN outcome_routing_key text,
    ADD COLUMN outcome_body        text,
    ADD COLUMN outcome_traceparent text,
    ADD COLUMN outcome_tracestate  text;

-- The outcomes stored so far move to their claims: the outcome of a claim answers its id (correlation_id) on the
-- claim's stream (commands → command.*, submissions → submission.*). A transient row (the processing_failed outcome
-- of a dead-lettered message, maybe processed since by a replay) is never a claim's outcome.
UPDATE processed_messages p
SET outcome_routing_key = o.routing_key, outcome_body = o.body,
    outcome_traceparent = o.traceparent, outcome_tracestate = o.tracestate
FROM outbox o
WHERE p.queue IN ('submissions', 'allocations')
  AND o.exchange = 'schools.events' AND o.message_id LIKE 'outcome-%' AND o.correlation_id = p.message_id
  AND NOT o.transient
  AND o.routing_key LIKE CASE split_part(p.claim_key, chr(31), 2) WHEN 'schools.commands' THEN 'command.%'
                                                               ELSE 'submission.%' END;

-- What was published or never needed the relay goes; what waits stays, in order.
DELETE FROM outbox WHERE published_at IS NOT NULL OR NOT needs_relay;
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_routing_key_key;
ALTER TABLE outbox DROP COLUMN needs_relay, DROP COLUMN published_at, DROP COLUMN transient;  -- outbox_pending goes too

-- An inventory that replaces a school's record deletes its serials by this foreign key (ON DELETE CASCADE):
-- without the index, each such delete read the whole table.
CREATE INDEX equipment_serials_submission ON equipment_serials (submission_id);
