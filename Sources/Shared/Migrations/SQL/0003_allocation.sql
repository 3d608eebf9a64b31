-- Allocation runs: what triggered them, the eligible students' index, and procurement plans.

ALTER TABLE allocation_runs
    ADD COLUMN trigger text NOT NULL DEFAULT 'command' CHECK (trigger IN ('command', 'event', 'deadline')),
    ADD COLUMN pool_devices integer,
    ADD COLUMN targeted_devices integer;

-- Eligible students of a campaign: on-time reports only.
CREATE INDEX students_eligible ON students (campaign, school_code) WHERE first_on_time_at IS NOT NULL;
-- (allocations by campaign and school use the unique key's index; by run, a scan: audits are rare)

-- Every procurement plan computed, exportable as CSV (`schoolict plan-csv`).
CREATE TABLE procurement_plans (
    plan_id                       text PRIMARY KEY,
    campaign                      text NOT NULL REFERENCES campaigns,
    target_students_per_computer  double precision NOT NULL,
    created_at                    timestamptz NOT NULL DEFAULT now(),
    body                          jsonb NOT NULL
);
CREATE INDEX procurement_plans_campaign ON procurement_plans (campaign, created_at DESC);
