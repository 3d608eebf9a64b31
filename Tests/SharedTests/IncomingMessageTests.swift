import Foundation
import Testing

@testable import Shared

@Suite("IncomingMessage and Outcome")
struct IncomingMessageTests {
    typealias Edit = MessageFixtures.Edit
    static let submissions = Topology.Exchange.submissions
    static let commands = Topology.Exchange.commands

    /// The rejection outcome of an invalid message, or a recorded issue.
    static func rejection(_ message: IncomingMessage, sourceLocation: SourceLocation = #_sourceLocation) -> Outcome? {
        guard case .invalid(let outcome) = message else {
            Issue.record("expected a rejection, got \(message)", sourceLocation: sourceLocation)
            return nil
        }
        return outcome
    }

    static func errors(_ outcome: Outcome) -> [FieldError] {
        if case .rejected(let errors) = outcome.result { return errors }
        return []
    }

    /// The outcome's body, parsed back from the bytes it is published with.
    static func publishedBody(_ outcome: Outcome) throws -> JSONObject {
        guard case .object(let fields) = try JSONParser.parse(outcome.message.body) else {
            Issue.record("outcome body is not an object")
            return [:]
        }
        return fields
    }

    // MARK: - Classification

    @Test("a valid submission is classified by its routing key", arguments: SubmissionType.allCases)
    func validSubmission(_ type: SubmissionType) {
        let message = IncomingMessage.classify(exchange: Self.submissions, routingKey: type.rawValue,
                                               messageID: "msg-1", body: MessageFixtures.body(MessageFixtures.example(type)))
        guard case .submission(let id, let submission) = message else {
            Issue.record("not a submission: \(message)")
            return
        }
        #expect(id == "msg-1")
        #expect(message.messageID == "msg-1")
        #expect(submission.type == type)
    }

    @Test("a valid command is classified by its routing key", arguments: CommandKey.allCases)
    func validCommand(_ key: CommandKey) {
        let message = IncomingMessage.classify(exchange: Self.commands, routingKey: key.rawValue,
                                               messageID: "cmd-1", body: MessageFixtures.body(MessageFixtures.example(key)))
        guard case .command(let id, let command) = message else {
            Issue.record("not a command: \(message)")
            return
        }
        #expect(id == "cmd-1")
        #expect(command.key == key)
    }

    @Test("a body that is not JSON is rejected as malformed, under the routing key's type")
    func notJSON() throws {
        let body = Array("this is not json".utf8)
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "equipment_inventory", messageID: "m-1", body: body)))
        #expect(outcome.messageID == "m-1")
        #expect(outcome.subject == .submission("equipment_inventory"))
        #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
        #expect(outcome.campaign == nil)
        #expect(outcome.schoolCode == nil)
        let errors = Self.errors(outcome)
        #expect(errors.count == 1)
        #expect(errors.first?.code == .malformed)
        #expect(errors.first?.field == "")

        let command = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.commands, routingKey: "campaign.upsert", messageID: "c-1", body: Array("{".utf8))))
        #expect(command.routingKey == "command.rejected.campaign.upsert")
        #expect(Self.errors(command).map(\.code) == [.malformed])
    }

    @Test("bodies that are JSON but not an object are malformed",
          arguments: ["[]", #"[{"campaign": "gr-ict-2022"}]"#, #""text""#, "42", "null", ""])
    func notAnObject(_ text: String) throws {
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "device_need_report", messageID: "m-2", body: Array(text.utf8))))
        #expect(outcome.routingKey == "submission.rejected.device_need_report")
        #expect(Self.errors(outcome).map(\.code) == [.malformed])
        #expect(Self.errors(outcome).map(\.field) == [""])
    }

    @Test("a missing message_id is malformed; the outcome's id is derived from the body",
          arguments: [nil, ""] as [String?])
    func missingMessageID(_ rawID: String?) throws {
        let body = MessageFixtures.body(MessageFixtures.equipmentInventory)
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "equipment_inventory", messageID: rawID, body: body)))
        #expect(Self.errors(outcome).map(\.code) == [.malformed])
        #expect(Self.errors(outcome).map(\.field) == ["message_id"])
        #expect(outcome.messageID == "sha256-" + SHA256.hexDigest(of: body))
        #expect(outcome.messageID.count == 7 + 64)
        #expect(outcome.campaign == "gr-ict-2022")
        #expect(outcome.schoolCode == "0551010")
        #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
        #expect(outcome.message.messageID == "outcome-sha256-" + SHA256.hexDigest(of: body))
    }

    @Test("the derived id: same body, same id; different body, different id")
    func derivedIDIsStable() throws {
        func id(_ body: [UInt8]) -> String {
            IncomingMessage.classify(exchange: Self.submissions, routingKey: "donation_record", messageID: nil,
                                     body: body).messageID
        }
        let body = MessageFixtures.body(MessageFixtures.donationRecord)
        let other = MessageFixtures.body(MessageFixtures.donationRecord, [Edit("donation_ref", "DN-2021-0043")])
        #expect(id(body) == id(body))
        #expect(id(Array(body)) == id(body))
        #expect(id(body) != id(other))
        #expect(id(Array("not json".utf8)) == "sha256-" + SHA256.hexDigest(of: Array("not json".utf8)))
        #expect(id(Array("not json".utf8)) != id(Array("not json!".utf8)))
        // The donation's target school names the outcome's school.
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "donation_record", messageID: nil, body: body)))
        #expect(outcome.schoolCode == "TDM-TH-01")
        #expect(outcome.campaign == "vn-song-2021")
    }

    @Test("the message id is kept exactly as sent, and comes back as the correlation id")
    func messageIDKeptAsSent() throws {
        for id in ["portal-42", "  portal 42 ", String(repeating: "x", count: 240), "Ωμέγα-Nguyễn"] {
            let body = MessageFixtures.body(MessageFixtures.handoverRecord)
            let message = IncomingMessage.classify(exchange: Self.submissions, routingKey: "handover_record",
                                                   messageID: id, body: body)
            #expect(message.messageID == id)
            guard case .submission = message else {
                Issue.record("not a submission: \(message)")
                continue
            }
            let rejected = try #require(Self.rejection(IncomingMessage.classify(
                exchange: Self.submissions, routingKey: "handover_record", messageID: id, body: Array("x".utf8))))
            #expect(rejected.message.correlationID == id)
            #expect(rejected.message.messageID == "outcome-" + id)
        }
    }

    @Test("an unknown routing key on schools.submissions is rejected as unknown_type, type unknown")
    func unknownSubmissionType() throws {
        let body = MessageFixtures.body(MessageFixtures.equipmentInventory)
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "equipment_census", messageID: "m-3", body: body)))
        #expect(outcome.subject == .submission("unknown"))
        #expect(outcome.routingKey == "submission.rejected.unknown")
        #expect(Self.errors(outcome).map(\.code) == [.unknownType])
        #expect(Self.errors(outcome).map(\.field) == ["routing_key"])
        #expect(outcome.campaign == "gr-ict-2022")
        #expect(outcome.schoolCode == "0551010")
        #expect(outcome.messageID == "m-3")
    }

    @Test("a command key published on schools.submissions is not a command")
    func commandKeyOnSubmissions() throws {
        let body = MessageFixtures.body(MessageFixtures.campaignUpsert)
        let message = IncomingMessage.classify(exchange: Self.submissions, routingKey: "campaign.upsert",
                                               messageID: "m-4", body: body)
        if case .command = message { Issue.record("a portal must not be able to publish a command") }
        let outcome = try #require(Self.rejection(message))
        #expect(outcome.routingKey == "submission.rejected.unknown")
        #expect(Self.errors(outcome).map(\.code) == [.unknownType])
    }

    @Test("a submission type published on schools.commands is not a submission")
    func submissionTypeOnCommands() throws {
        let body = MessageFixtures.body(MessageFixtures.deviceNeedReport)
        let message = IncomingMessage.classify(exchange: Self.commands, routingKey: "device_need_report",
                                               messageID: "m-5", body: body)
        if case .submission = message { Issue.record("classified as a submission") }
        let outcome = try #require(Self.rejection(message))
        #expect(outcome.subject == .command("unknown"))
        #expect(outcome.routingKey == "command.rejected.unknown")
        #expect(Self.errors(outcome).map(\.code) == [.unknownType])
    }

    @Test("an invalid submission is rejected with every field error, campaign and school")
    func invalidSubmission() throws {
        let body = MessageFixtures.body(MessageFixtures.equipmentInventory, [
            Edit("items[1].quantity", 0), Edit("items[0].condition", "broken"),
        ])
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "equipment_inventory", messageID: "m-6", body: body)))
        #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
        #expect(Self.errors(outcome).map { "\($0.code.rawValue) \($0.field)" }.sorted()
                == ["invalid_field items[0].condition", "invalid_field items[1].quantity"])
        #expect(outcome.campaign == "gr-ict-2022")
        #expect(outcome.schoolCode == "0551010")
    }

    @Test("an invalid command is rejected under command.rejected.<key>")
    func invalidCommand() throws {
        let body = MessageFixtures.body(MessageFixtures.procurementPlan, [Edit("target_students_per_computer", 0)])
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.commands, routingKey: "procurement.plan", messageID: "c-2", body: body)))
        #expect(outcome.subject == .command("procurement.plan"))
        #expect(outcome.routingKey == "command.rejected.procurement.plan")
        #expect(outcome.campaign == "gr-ict-2022")
        #expect(Self.errors(outcome).map(\.field) == ["target_students_per_computer"])
        #expect(outcome.message.messageID == "outcome-c-2")
        #expect(outcome.message.correlationID == "c-2")
    }

    // MARK: - Outcome shapes

    @Test("a rejection's event matches the contract's shape exactly")
    func rejectedShape() throws {
        let body = MessageFixtures.body(MessageFixtures.deviceNeedReport, [Edit("students[0].grade", 0)])
        let outcome = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "device_need_report", messageID: "portal-7", body: body)))
        let message = outcome.message
        #expect(message.exchange == "schools.events")
        #expect(message.routingKey == "submission.rejected.device_need_report")
        #expect(message.messageID == "outcome-portal-7")
        #expect(message.correlationID == "portal-7")
        #expect(message.contentType == "application/json")

        let fields = try Self.publishedBody(outcome)
        #expect(Set(fields.keys) == ["message_id", "campaign", "school_code", "errors"])
        #expect(fields["message_id"] == "portal-7")
        #expect(fields["campaign"] == "vn-song-2021")
        #expect(fields["school_code"] == "TDM-TH-01")
        let errors = try #require(fields["errors"]?.arrayValue)
        #expect(errors.count == 1)
        guard case .object(let error) = errors.first else {
            Issue.record("error is not an object")
            return
        }
        #expect(Set(error.keys) == ["code", "field", "message"])
        #expect(error["code"] == "invalid_field")
        #expect(error["field"] == "students[0].grade")
        #expect(error["message"]?.stringValue?.isEmpty == false)
        // The student's name is nowhere in the event.
        #expect(!String(decoding: message.body, as: UTF8.self).contains("Nguyễn"))
    }

    @Test("an acceptance's event matches the contract's shape exactly")
    func acceptedShape() throws {
        let outcome = Outcome(messageID: "portal-8", subject: .submission("device_need_report"),
                              campaign: "vn-song-2021", schoolCode: "TDM-TH-01",
                              result: .accepted(status: .onTime, summary: ["students": 1, "by_category": ["covid_orphan": 1]]))
        #expect(outcome.isAccepted)
        #expect(outcome.routingKey == "submission.accepted.device_need_report")
        #expect(outcome.outcomeMessageID == "outcome-portal-8")
        let message = outcome.message
        #expect(message.exchange == "schools.events")
        #expect(message.routingKey == "submission.accepted.device_need_report")
        #expect(message.messageID == "outcome-portal-8")
        #expect(message.correlationID == "portal-8")
        #expect(String(decoding: message.body, as: UTF8.self)
                == #"{"campaign":"vn-song-2021","message_id":"portal-8","school_code":"TDM-TH-01","status":"on_time","#
                + #""summary":{"by_category":{"covid_orphan":1},"students":1}}"#)
        let fields = try Self.publishedBody(outcome)
        #expect(Set(fields.keys) == ["message_id", "campaign", "school_code", "status", "summary"])

        let late = Outcome(messageID: "p-9", subject: .submission("handover_record"), campaign: "vn-song-2021",
                           schoolCode: "TDM-TH-01", result: .accepted(status: .late, summary: ["late": true]))
        #expect(try Self.publishedBody(late)["status"] == "late")
    }

    @Test("command outcomes use command.<verdict>.<key>; absent campaign or school is null")
    func commandShapes() throws {
        let accepted = Outcome(messageID: "c-3", subject: .command("school.upsert"), campaign: nil,
                               schoolCode: "0551010", result: .accepted(status: .onTime, summary: ["created": true]))
        #expect(accepted.routingKey == "command.accepted.school.upsert")
        #expect(accepted.message.messageID == "outcome-c-3")
        #expect(accepted.message.correlationID == "c-3")
        #expect(String(decoding: accepted.message.body, as: UTF8.self)
                == #"{"campaign":null,"message_id":"c-3","school_code":"0551010","status":"on_time","summary":{"created":true}}"#)

        let rejected = Outcome.rejected("c-4", .command("allocation.run"), campaign: "vn-song-2021",
                                        [FieldError(.unknownCampaign, field: "campaign", "no campaign with this name")])
        #expect(!rejected.isAccepted)
        #expect(rejected.routingKey == "command.rejected.allocation.run")
        #expect(String(decoding: rejected.message.body, as: UTF8.self)
                == #"{"campaign":"vn-song-2021","errors":[{"code":"unknown_campaign","field":"campaign","#
                + #""message":"no campaign with this name"}],"message_id":"c-4","school_code":null}"#)
    }

    @Test("the same delivery always yields the same outcome bytes")
    func deterministic() throws {
        let body = MessageFixtures.body(MessageFixtures.equipmentInventory, [Edit("items[0].quantity", 0),
                                                                             Edit("procedure", "replace")])
        let first = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "equipment_inventory", messageID: "m-7", body: body)))
        let second = try #require(Self.rejection(IncomingMessage.classify(
            exchange: Self.submissions, routingKey: "equipment_inventory", messageID: "m-7", body: body)))
        #expect(first == second)
        #expect(first.message == second.message)
    }

    @Test("FieldError and RejectionCode")
    func fieldError() throws {
        let error = FieldError(.duplicateSerial, field: "items[1].serial_numbers", "repeats a serial number")
        #expect(error.description == "duplicate_serial items[1].serial_numbers: repeats a serial number")
        let encoded = try JSONEncoder().encode(error)
        let decoded = try JSONDecoder().decode(FieldError.self, from: encoded)
        #expect(decoded == error)
        let object = try JSONParser.parse(Array(encoded))
        #expect(object["code"] == "duplicate_serial")
        #expect(RejectionCode.notAllocatedToStudent.rawValue == "not_allocated_to_student")
        #expect(RejectionCode.campaignNotOpen.rawValue == "campaign_not_open")
        #expect(RejectionCode.procedureNotAllowed.rawValue == "procedure_not_allowed")
        #expect(RejectionCode.notOfficialAccount.rawValue == "not_official_account")
    }
}
