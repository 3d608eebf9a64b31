-- Trust boundaries: who published, claims per publishing stream, backdating, outcomes kept per stream.

-- A message id is claimed per queue and publishing stream (the exchange it came through), so that a portal cannot
-- pre-empt an operator's command id, nor one queue's id another's. The key is `<queue> US <exchange> US <id>`
-- (US = U+001F, which no valid message id contains). `published_by` is the AMQP user_id the broker validated.
ALTER TABLE processed_messages RENAME COLUMN message_id TO claim_key;
ALTER TABLE processed_messages ADD COLUMN published_by text;
UPDATE processed_messages p SET claim_key = p.queue || chr(31) ||
    CASE WHEN p.queue = 'notifications' THEN 'schools.events'
         WHEN p.queue = 'allocations' THEN 'schools.commands'
         WHEN EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = 'outcome-' || p.claim_key AND o.routing_key LIKE 'command.%')
              THEN 'schools.commands'
         ELSE 'schools.submissions' END
    || chr(31) || p.claim_key;
-- The id as the message carried it, for operators and audits.
ALTER TABLE processed_messages ADD COLUMN message_id text GENERATED ALWAYS AS (split_part(claim_key, chr(31), 3)) STORED;

-- Outcomes of the same id from different streams (a submission and a command) are different rows.
ALTER TABLE outbox DROP CONSTRAINT outbox_message_id_key;
ALTER TABLE outbox ADD CONSTRAINT outbox_message_id_routing_key_key UNIQUE (message_id, routing_key);

-- Stored submissions: the publishing user, and whether submitted_at precedes the first receipt by more than the
-- campaign's max_submission_lag (hours, default 24).
ALTER TABLE submissions ADD COLUMN published_by text;
ALTER TABLE submissions ADD COLUMN backdated boolean NOT NULL DEFAULT false;
ALTER TABLE campaigns ADD COLUMN max_submission_lag_hours double precision NOT NULL DEFAULT 24
    CHECK (max_submission_lag_hours > 0);
