/// Who may do what: the broker users and database roles `schoolict provision` creates, each with only what it
/// needs. The README's "Principals" table and `docs/asyncapi.yaml` describe the same model; change them together.
enum AccessModel {
    /// A RabbitMQ user: its permission patterns on the deployment's vhost (regular expressions on resource names).
    struct BrokerUser {
        var name: String
        var configure: String
        var write: String
        var read: String
    }

    /// Users, in the order they are created. No user may configure anything but its own server-named
    /// (`amq.gen-…`) queues: the topology is declared by `provision`, with the administrator's credentials.
    static let brokerUsers: [BrokerUser] = [
        // Publishes submissions; reads nothing (a portal that wants outcomes uses the monitor user).
        BrokerUser(name: "portal", configure: "^$", write: "^schools\\.submissions$", read: "^$"),
        // Publishes commands; reads nothing.
        BrokerUser(name: "operator", configure: "^$", write: "^schools\\.commands$", read: "^$"),
        // Each worker: consumes its own queue, publishes events. Dead-lettering is the broker's, not the user's.
        BrokerUser(name: "submission-worker", configure: "^$", write: "^schools\\.events$", read: "^submissions$"),
        BrokerUser(name: "allocation-worker", configure: "^$", write: "^schools\\.events$", read: "^allocations$"),
        BrokerUser(name: "notification-worker", configure: "^$", write: "^schools\\.events$", read: "^notifications$"),
        // Reads events through queues of its own (`schoolict watch`, the demo's report, a portal's outcome reader).
        BrokerUser(name: "monitor", configure: "^amq\\.gen-.*$", write: "^amq\\.gen-.*$",
                   read: "^(amq\\.gen-.*|schools\\.events)$"),
    ]

    /// Database roles, in the order they are created; `owner` owns the schema and runs migrations.
    static let databaseRoles = ["owner", "submission", "allocation", "notification", "operator"]

    static func roleName(_ role: String) -> String { "schoolict_" + role }

    /// Grants to the roles, run by the schema owner after every migration. Table-level where a table holds no
    /// personal data; column-level on `students` (names) and `donations` (a donor may be a person): only the
    /// submission role reads or writes `students.full_name`, the notification role cannot read `students` at all.
    static let grants: [String] = [
        // Every worker: the schema check, idempotency claims and the outbox.
        "GRANT SELECT ON schema_migrations TO schoolict_submission, schoolict_allocation, schoolict_notification, schoolict_operator",
        // (DELETE: the hourly retention sweep, `RETENTION_DAYS`.)
        "GRANT SELECT, INSERT, DELETE ON processed_messages TO schoolict_submission, schoolict_allocation, schoolict_notification",
        // (UPDATE: the relay locks the rows it publishes, `SELECT … FOR UPDATE`; DELETE: once they are published.)
        "GRANT SELECT, INSERT, UPDATE, DELETE ON outbox TO schoolict_submission, schoolict_allocation, schoolict_notification",
        "GRANT USAGE ON SEQUENCE outbox_id_seq TO schoolict_submission, schoolict_allocation, schoolict_notification",
        // Failures of messages dead-lettered on their own (`schoolict dead list`); DELETE: the retention sweep.
        "GRANT SELECT, INSERT, DELETE ON message_failures TO schoolict_submission, schoolict_allocation, schoolict_notification",
        "GRANT USAGE ON SEQUENCE message_failures_id_seq TO schoolict_submission, schoolict_allocation, schoolict_notification",
        // SubmissionWorker: validates and stores submissions and registry commands.
        "GRANT SELECT, INSERT, UPDATE ON schools, campaigns TO schoolict_submission",
        "GRANT SELECT, INSERT ON campaign_deadlines, submissions, equipment_serials, devices, handovers TO schoolict_submission",
        "GRANT SELECT, INSERT, DELETE ON equipment_records TO schoolict_submission",
        "GRANT SELECT ON equipment_items TO schoolict_submission",
        "GRANT SELECT, INSERT, UPDATE ON students TO schoolict_submission",
        "GRANT SELECT, INSERT ON donations TO schoolict_submission",
        "GRANT SELECT, UPDATE (handed_over_at) ON allocations TO schoolict_submission",
        // AllocationWorker: ranks students by category and report time; never reads names.
        "GRANT SELECT ON campaigns, campaign_deadlines, schools, devices, submissions, equipment_items TO schoolict_allocation",
        "GRANT SELECT (campaign, school_code, student_ref, category, first_on_time_at) ON students TO schoolict_allocation",
        "GRANT SELECT, INSERT ON allocations, procurement_plans TO schoolict_allocation",
        "GRANT SELECT, INSERT, UPDATE ON allocation_runs TO schoolict_allocation",
        // NotificationWorker: schools, deadlines, submissions' status, runs and allocations (refs, never names).
        "GRANT SELECT ON campaigns, campaign_deadlines, schools, submissions, allocation_runs, allocations, handovers TO schoolict_notification",
        "GRANT SELECT, INSERT, UPDATE ON notifications TO schoolict_notification",
        "GRANT SELECT, INSERT ON notification_slots TO schoolict_notification",
        // Operator: reads for reports and the CLI, never a name.
        """
        GRANT SELECT ON schools, campaigns, campaign_deadlines, submissions, equipment_items, devices, handovers,
              allocation_runs, allocations, procurement_plans, notifications, processed_messages, message_failures
              TO schoolict_operator
        """,
        "GRANT SELECT (campaign, school_code, student_ref, grade, category, reported_at, submission_id, first_on_time_at) ON students TO schoolict_operator",
        """
        GRANT SELECT (campaign, donation_ref, submission_id, channel, donor_kind, target_school_code, submitted_at)
              ON donations TO schoolict_operator
        """,
    ]
}
