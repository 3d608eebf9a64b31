import Shared

/// Renders any stored notification: decodes its payload and picks the template for its kind.
enum MailTemplates {
    static func render(kind: NotificationKind, payload: JSONValue, context: MailContext,
                       language: Language) throws(PayloadError) -> RenderedMail {
        try document(kind: kind, payload: payload, context: context, language: language).rendered()
    }

    static func document(kind: NotificationKind, payload: JSONValue, context: MailContext,
                         language: Language) throws(PayloadError) -> MailDocument {
        switch kind {
        case .deadlineReminder:
            DeadlineReminderTemplate.document(try DeadlineReminderPayload(json: payload), context: context, language: language)
        case .staffDigest:
            StaffDigestTemplate.document(try StaffDigestPayload(json: payload), context: context, language: language)
        case .finalDigest:
            FinalDigestTemplate.document(try FinalDigestPayload(json: payload), context: context, language: language)
        case .allocationNotice:
            AllocationNoticeTemplate.document(try AllocationNoticePayload(json: payload), context: context, language: language)
        case .allocationSummary:
            AllocationSummaryTemplate.document(try AllocationSummaryPayload(json: payload), context: context, language: language)
        case .handoverReminder:
            HandoverReminderTemplate.document(try HandoverReminderPayload(json: payload), context: context, language: language)
        }
    }
}
