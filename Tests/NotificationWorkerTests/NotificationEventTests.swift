import Testing

@testable import NotificationWorker
@testable import Shared

@Suite("notification.sent")
struct NotificationEventTests {
    /// The contract's example (docs/asyncapi.yaml, `NotificationSent`): `notification-sent-` and the first 40 hex
    /// digits of the SHA-256 of `dedup_key` (`printf %s KEY | sha256sum`), once.
    @Test("the message id is the contract's: SHA-256 of dedup_key, hashed once")
    func messageIDPinnedToTheContractExample() throws {
        let key = "deadline_reminder/gr-ict-2022/2022-01-21T21:59:59Z/2022-01-14/mail@0551010.sch.gr"
        let event = NotificationEvents.sent(.init(dedupKey: key, kind: .deadlineReminder, recipient: "mail@0551010.sch.gr",
                                                  campaign: "gr-ict-2022", schoolCode: "0551010"))
        #expect(event.messageID == "notification-sent-7fc0e01717222542bd323bfd48c94f93afa1c1a3")
        #expect(event.routingKey == "notification.sent")
        let body = try JSONParser.parse(event.body)
        #expect(body["dedup_key"]?.stringValue == key)
        #expect(body["school_code"]?.stringValue == "0551010")
    }
}
