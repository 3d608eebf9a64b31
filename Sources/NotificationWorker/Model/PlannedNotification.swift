import Foundation
import Shared

/// An e-mail decided on and about to be stored as `pending`.
struct PlannedNotification: Sendable {
    var key: NotificationKey
    var messageID: String
    /// The series' deadline, for deadline e-mails.
    var deadline: Date?
    var schoolCode: String?
    var language: Language
    var payload: JSONValue
    var dueAt: Date

    init(key: NotificationKey, messageIDDomain: String, deadline: Date? = nil, schoolCode: String? = nil,
         language: Language, payload: JSONValue, dueAt: Date) {
        self.key = key
        self.messageID = key.messageID(domain: messageIDDomain)
        self.deadline = deadline
        self.schoolCode = schoolCode
        self.language = language
        self.payload = payload
        self.dueAt = dueAt
    }
}

/// A stored e-mail claimed by a sender.
struct ClaimedNotification: Sendable {
    var dedupKey: String
    var messageID: String
    var kind: NotificationKind
    var recipient: String
    var campaign: String
    var series: String
    var deadline: Date?
    var day: LocalDay
    var schoolCode: String?
    var language: Language
    var payload: JSONValue
    var dueAt: Date
    /// Attempts made before this one.
    var attempts: Int
}
