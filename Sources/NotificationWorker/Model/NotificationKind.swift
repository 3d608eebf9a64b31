/// Why an e-mail is sent; the `kind` of `notification.sent` and of the `notifications` table.
enum NotificationKind: String, Sendable, CaseIterable, Codable {
    /// To a school without an on-time submission, `reminder_days` before the deadline.
    case deadlineReminder = "deadline_reminder"
    /// To each staff address with a reminder: the schools still missing, by region.
    case staffDigest = "staff_digest"
    /// To each staff address after the deadline: on time, late and missing, by region.
    case finalDigest = "final_digest"
    /// To a school on `allocation.school`: the computers it received and the handover rule.
    case allocationNotice = "allocation_notice"
    /// To each staff address on `allocation.completed`: the run's totals.
    case allocationSummary = "allocation_summary"
    /// To a school, once a day, while allocated devices have no handover record after `handover_days`.
    case handoverReminder = "handover_reminder"

    /// Whether the recipient is ministry staff (digests) rather than a school.
    var isForStaff: Bool {
        self == .staffDigest || self == .finalDigest || self == .allocationSummary
    }
}
