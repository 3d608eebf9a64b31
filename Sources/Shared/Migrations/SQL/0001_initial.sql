-- Schools, campaigns, submissions and their effects, the idempotency record and the outbox.
-- Personal data (student names, household category) lives only in `students`.

CREATE TABLE schools (
    school_code     text PRIMARY KEY,
    name            text NOT NULL,
    level           text NOT NULL CHECK (level IN ('primary', 'lower_secondary', 'secondary')),
    region          text NOT NULL,
    official_email  text NOT NULL,
    language        text NOT NULL CHECK (language IN ('el', 'vi', 'en')),
    students        integer CHECK (students >= 0),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX schools_region ON schools (region);

CREATE TABLE campaigns (
    campaign        text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('equipment_inventory', 'device_support')),
    title           text NOT NULL,
    opens_at        timestamptz NOT NULL,
    deadline        timestamptz NOT NULL,
    timezone        text NOT NULL,
    staff_emails    text[] NOT NULL DEFAULT '{}',
    reminder_days   integer[] NOT NULL DEFAULT '{7,3,1}',
    handover_days   integer NOT NULL DEFAULT 1 CHECK (handover_days >= 0),
    priority        text[] NOT NULL DEFAULT '{covid_orphan,poor_household,near_poor_household,other_hardship}',
    regions         text[],
    levels          text[],
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (deadline > opens_at)
);

-- Every deadline a campaign has had: an extension starts its own reminder series.
CREATE TABLE campaign_deadlines (
    campaign        text NOT NULL REFERENCES campaigns ON DELETE CASCADE,
    deadline        timestamptz NOT NULL,
    set_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (campaign, deadline)
);

-- One row per message id ever processed by a worker: the idempotency record, written in the same
-- transaction as the message's effects and its outcome.
CREATE TABLE processed_messages (
    message_id      text PRIMARY KEY,
    queue           text NOT NULL,
    processed_at    timestamptz NOT NULL DEFAULT now()
);

-- Transactional outbox: every event a worker publishes. Rows with `needs_relay` are published by a relay
-- (they are not tied to a delivery that would be redelivered); the others are re-published when their
-- message is delivered again.
CREATE TABLE outbox (
    id              bigserial PRIMARY KEY,
    message_id      text NOT NULL UNIQUE,
    exchange        text NOT NULL,
    routing_key     text NOT NULL,
    correlation_id  text,
    body            text NOT NULL,
    needs_relay     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    published_at    timestamptz
);
CREATE INDEX outbox_pending ON outbox (id) WHERE needs_relay AND published_at IS NULL;

CREATE TABLE submissions (
    message_id      text PRIMARY KEY,
    type            text NOT NULL,
    campaign        text NOT NULL REFERENCES campaigns,
    school_code     text,
    submitted_by    text NOT NULL,
    submitted_at    timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    status          text NOT NULL CHECK (status IN ('on_time', 'late')),
    procedure       text
);
CREATE INDEX submissions_school ON submissions (campaign, school_code, status);

-- A school's equipment record in a campaign: `insert` adds lines, `inventory` replaces them all.
-- Lines are written in the same transaction as their submission; there is no foreign key to
-- `submissions` because checking one per line costs more than the hot path can afford.
CREATE TABLE equipment_items (
    submission_id   text NOT NULL,
    line_no         integer NOT NULL,
    campaign        text NOT NULL,
    school_code     text NOT NULL,
    category        text NOT NULL,
    quantity        integer NOT NULL CHECK (quantity BETWEEN 1 AND 10000),
    acquired_year   integer NOT NULL,
    condition       text NOT NULL CHECK (condition IN ('working', 'faulty', 'obsolete')),
    PRIMARY KEY (submission_id, line_no)
);
CREATE INDEX equipment_items_school ON equipment_items (campaign, school_code);

CREATE TABLE equipment_serials (
    campaign        text NOT NULL,
    school_code     text NOT NULL,
    serial          text NOT NULL,
    submission_id   text NOT NULL,
    line_no         integer NOT NULL,
    PRIMARY KEY (campaign, school_code, serial),
    FOREIGN KEY (submission_id, line_no) REFERENCES equipment_items ON DELETE CASCADE
);

-- Students reported as needing a computer. The newest `reported_at` wins for the details;
-- `first_on_time_at` is the earliest on-time report naming the student (null: reported late only).
CREATE TABLE students (
    campaign         text NOT NULL REFERENCES campaigns,
    school_code      text NOT NULL REFERENCES schools,
    student_ref      text NOT NULL,
    full_name        text NOT NULL,
    grade            integer NOT NULL,
    category         text NOT NULL CHECK (category IN ('covid_orphan', 'poor_household', 'near_poor_household', 'other_hardship')),
    reported_at      timestamptz NOT NULL,
    submission_id    text NOT NULL,
    first_on_time_at timestamptz,
    PRIMARY KEY (campaign, school_code, student_ref)
);

CREATE TABLE donations (
    campaign            text NOT NULL REFERENCES campaigns,
    donation_ref        text NOT NULL,
    submission_id       text NOT NULL REFERENCES submissions,
    channel             text NOT NULL CHECK (channel IN ('ministry', 'other')),
    donor_name          text NOT NULL,
    donor_kind          text NOT NULL,
    target_school_code  text REFERENCES schools,
    submitted_at        timestamptz NOT NULL,
    PRIMARY KEY (campaign, donation_ref)
);

CREATE TABLE devices (
    serial              text PRIMARY KEY,
    campaign            text NOT NULL REFERENCES campaigns,
    donation_ref        text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('laptop', 'desktop', 'tablet')),
    specs               text,
    target_school_code  text REFERENCES schools,
    received_at         timestamptz NOT NULL,
    FOREIGN KEY (campaign, donation_ref) REFERENCES donations
);
CREATE INDEX devices_campaign ON devices (campaign, target_school_code);

CREATE TABLE allocation_runs (
    run_id              text PRIMARY KEY,
    campaign            text NOT NULL REFERENCES campaigns,
    region              text,
    school_code         text,
    trigger_message_id  text,
    started_at          timestamptz NOT NULL DEFAULT now(),
    finished_at         timestamptz,
    eligible            integer,
    late_excluded       integer,
    devices_available   integer,
    allocated           integer,
    waiting             integer
);

-- One device per student and one student per device, enforced here and not only in Swift.
-- No foreign keys: rows come only from allocation runs, which read the devices and students in the same
-- transaction under the campaign's advisory lock (and neither is ever deleted); checking three keys per row
-- doubled the time of a 200,000-device run. The keys that are the invariants stay.
CREATE TABLE allocations (
    device_serial   text PRIMARY KEY,
    campaign        text NOT NULL,
    school_code     text NOT NULL,
    student_ref     text NOT NULL,
    run_id          text NOT NULL,
    rank            integer NOT NULL,
    category        text NOT NULL,
    rule            text NOT NULL,
    allocated_at    timestamptz NOT NULL DEFAULT now(),
    handed_over_at  timestamptz,
    UNIQUE (campaign, school_code, student_ref)
);

CREATE TABLE handovers (
    device_serial   text PRIMARY KEY REFERENCES devices,
    campaign        text NOT NULL,
    school_code     text NOT NULL,
    student_ref     text NOT NULL,
    handed_over_at  timestamptz NOT NULL,
    recorded_at     timestamptz NOT NULL,
    late            boolean NOT NULL,
    submission_id   text NOT NULL REFERENCES submissions
);
