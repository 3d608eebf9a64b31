-- The NotificationWorker's record: every e-mail planned, sent, failed or cancelled, one row per dedup key.
-- E-mails list school codes, counts, device serials and student refs: never a student's name.

CREATE TABLE notifications (
    -- kind/campaign/series/day/recipient: the key no two e-mails ever share, whatever the number of workers.
    dedup_key        text PRIMARY KEY,
    -- The Message-ID header, derived from the key: a resend after a crash carries the same one.
    message_id       text NOT NULL UNIQUE,
    kind             text NOT NULL CHECK (kind IN ('deadline_reminder', 'staff_digest', 'final_digest',
                                                   'allocation_notice', 'allocation_summary', 'handover_reminder')),
    recipient        text NOT NULL,
    campaign         text NOT NULL,
    -- The series the e-mail belongs to: the deadline (ISO 8601, UTC) for deadline e-mails, the run id for
    -- allocation e-mails, `handover` for handover reminders.
    series           text NOT NULL,
    -- The deadline a deadline e-mail is about (an extension starts a new series).
    deadline         timestamptz,
    -- The day, in the campaign's time zone, the e-mail is for.
    day              date NOT NULL,
    school_code      text,
    language         text NOT NULL CHECK (language IN ('el', 'vi', 'en')),
    -- What the e-mail lists, fixed when it was planned.
    payload          jsonb NOT NULL,
    -- When it fell due on the school clock (SCHOOLICT_NOW).
    due_at           timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'pending'
                         CHECK (status IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    -- Real time: when a pending row may be tried (backoff), or when a `sending` claim lapses.
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claim_token      uuid,
    last_reply_code  integer,
    last_reply       text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    UNIQUE (recipient, kind, campaign, series, day)
);
CREATE INDEX notifications_claimable ON notifications (next_attempt_at) WHERE status IN ('pending', 'sending');
CREATE INDEX notifications_school ON notifications (campaign, school_code, kind);

-- Schedule slots already planned (a campaign's reminder day or final digest), so that planning each few
-- seconds does not look at every school again. Inserted in the transaction that plans the slot's e-mails.
CREATE TABLE notification_slots (
    campaign    text NOT NULL,
    slot        text NOT NULL CHECK (slot IN ('reminder', 'final_digest')),
    series      text NOT NULL,
    day         date NOT NULL,
    planned_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign, slot, series, day)
);
