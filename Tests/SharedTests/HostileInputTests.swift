import Foundation
import Testing

@testable import Shared

/// What a hostile portal sends (issue 7): every case gets one bounded answer with a code, never a crash, a cut id
/// or an outcome that grows with the input.
@Suite("Hostile input")
struct HostileInputTests {
    typealias Edit = MessageFixtures.Edit
    static let submissions = Topology.Exchange.submissions
    static let commands = Topology.Exchange.commands

    static func rejection(_ message: IncomingMessage, sourceLocation: SourceLocation = #_sourceLocation) -> Outcome? {
        IncomingMessageTests.rejection(message, sourceLocation: sourceLocation)
    }

    static func errors(_ outcome: Outcome) -> [FieldError] { IncomingMessageTests.errors(outcome) }

    /// The contract's inventory with `count` items of `serials` serial numbers each, all `false` (the wrong type).
    static func inventory(items count: Int, serials: Int) -> [UInt8] {
        let item: JSONValue = ["category": "desktop", "quantity": .int(serials), "acquired_year": 2015, "condition": "working",
                               "serial_numbers": .array(Array(repeating: .bool(false), count: serials))]
        return MessageFixtures.body(MessageFixtures.equipmentInventory, [Edit("items", .array(Array(repeating: item, count: count)))])
    }

    static func classify(_ type: SubmissionType, id: String = "m-1", _ body: [UInt8],
                         limits: MessageLimits = .default) -> IncomingMessage {
        IncomingMessage.classify(exchange: submissions, routingKey: type.rawValue, messageID: id, body: body, limits: limits)
    }

    static func published(_ outcome: Outcome) throws -> JSONObject {
        guard case .object(let fields) = try JSONParser.parse(outcome.message.body) else { return [:] }
        return fields
    }

    // MARK: - Bounded answers

    @Test("130 items of 10,000 wrong-typed serials (the issue's 2.6 MB case): one too_large error, a small outcome")
    func hugeInventory() throws {
        let body = Self.inventory(items: 130, serials: 10_000)
        #expect(body.count > 2_000_000)
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, body)))
        // 1.3 million values: the parser stops at its limit before building the tree.
        #expect(Self.errors(outcome).map(\.code) == [.tooLarge])
        #expect(outcome.message.body.count < 1_000)
    }

    @Test("more serial numbers in total than the cap: too_large on items, before any serial is read")
    func tooManySerialsInTotal() throws {
        let body = Self.inventory(items: 11, serials: 2_000)
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, body)))
        #expect(Self.errors(outcome).map(\.code) == [.tooLarge])
        #expect(Self.errors(outcome).map(\.field) == ["items"])
        #expect(outcome.message.body.count < 1_000)
    }

    @Test("20,000 wrong-typed serials within the cap: 100 errors listed, the rest counted in truncated")
    func errorsAreTruncated() throws {
        let body = Self.inventory(items: 1000, serials: 20)
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, body)))
        let fields = try Self.published(outcome)
        let listed = try #require(fields["errors"]?.arrayValue)
        #expect(listed.count == MessageLimits.maximumErrors)
        // Each serial is one error and each item's serial count then falls short of its quantity: 21 per item.
        #expect(fields["truncated"]?.intValue == 21_000 - MessageLimits.maximumErrors)
        #expect(outcome.message.body.count < 32 * 1024)
    }

    @Test("a rejection echoes campaign and school_code only when they meet the identifier rules")
    func echoedIdentifiersOnly() throws {
        let huge = String(repeating: "S", count: 8 * 1024 * 1024)
        let body = MessageFixtures.body(MessageFixtures.equipmentInventory, [Edit("school_code", .string(huge)),
                                                                            Edit("campaign", "gr ict\u{0}")])
        let limits = MessageLimits(maximumBodyBytes: 16 * 1024 * 1024)
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, body, limits: limits)))
        #expect(outcome.schoolCode == nil)
        #expect(outcome.campaign == nil)
        #expect(Set(Self.errors(outcome).map(\.field)) == ["campaign", "school_code"])
        #expect(outcome.message.body.count < 1_000)
    }

    @Test("a body over MAX_MESSAGE_BYTES is too_large without being parsed")
    func bodyOverTheLimit() throws {
        let limits = MessageLimits(maximumBodyBytes: 1024)
        let big = MessageFixtures.body(MessageFixtures.equipmentInventory,
                                       [Edit("padding", .string(String(repeating: "x", count: 2000)))])
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, big, limits: limits)))
        #expect(Self.errors(outcome).map(\.code) == [.tooLarge])
        // Not JSON at all, and still too_large: the parser never saw it.
        let garbage = Self.classify(.equipmentInventory, Array(repeating: UInt8(ascii: "{"), count: 2048), limits: limits)
        #expect(Self.rejection(garbage).map(Self.errors)?.map(\.code) == [.tooLarge])
        // At the limit exactly it is decoded.
        let small = MessageFixtures.body(MessageFixtures.equipmentInventory)
        guard case .submission = Self.classify(.equipmentInventory, small, limits: MessageLimits(maximumBodyBytes: small.count))
        else { Issue.record("a body of exactly the limit was not decoded"); return }
    }

    @Test("more JSON values than allowed is too_large")
    func tooManyValues() throws {
        let body = Array(("{\"x\":[" + Array(repeating: "0", count: MessageLimits.maximumJSONValues).joined(separator: ",") + "]}").utf8)
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, body)))
        #expect(Self.errors(outcome).map(\.code) == [.tooLarge])
    }

    @Test("per-message caps: items, students, devices", arguments: [
        (SubmissionType.equipmentInventory, "items", MessageLimits.maximumItems,
         JSONValue.object(["category": "desktop", "quantity": 1, "acquired_year": 2015, "condition": "working"])),
        (SubmissionType.deviceNeedReport, "students", MessageLimits.maximumStudents,
         JSONValue.object(["student_ref": "HS-1", "full_name": "A", "grade": 4, "category": "covid_orphan"])),
        (SubmissionType.donationRecord, "devices", MessageLimits.maximumDevices,
         JSONValue.object(["serial": "LT-1", "kind": "laptop"])),
    ])
    func caps(type: SubmissionType, key: String, cap: Int, element: JSONValue) throws {
        let body = MessageFixtures.body(MessageFixtures.example(type),
                                        [Edit(key, .array(Array(repeating: element, count: cap + 1)))])
        let outcome = try #require(Self.rejection(Self.classify(type, body)))
        #expect(Self.errors(outcome).map(\.code) == [.tooLarge])
        #expect(Self.errors(outcome).map(\.field) == [key])
    }

    @Test("an outcome too large to publish is replaced by processing_failed with the same ids")
    func oversizedOutcomeIsReplaced() throws {
        let summary = JSONValue.string(String(repeating: "x", count: MessageLimits.maximumOutgoingBytes))
        let outcome = Outcome(messageID: "m-9", subject: .submission("equipment_inventory"), campaign: "c",
                              schoolCode: "s", result: .accepted(status: .onTime, summary: summary))
        let message = outcome.message
        #expect(message.body.count < 1_000)
        #expect(message.messageID == "outcome-m-9")
        #expect(message.correlationID == "m-9")
        #expect(message.routingKey == "submission.rejected.equipment_inventory")
        let body = try JSONParser.parse(message.body)
        #expect(body["errors"]?.arrayValue?.first?["code"]?.stringValue == "processing_failed")
    }

    @Test("an outcome the broker refuses for good has a processing_failed replacement; other events have none")
    func refusedOutcomeReplacement() throws {
        let outcome = Outcome(messageID: "m-7", subject: .command("campaign.upsert"), campaign: "c", schoolCode: nil,
                              result: .accepted(status: .onTime, summary: [:]))
        let replacement = try #require(outcome.message.replacementForRefusedOutcome())
        #expect(replacement.messageID == "outcome-m-7")
        #expect(replacement.correlationID == "m-7")
        #expect(replacement.routingKey == "command.rejected.campaign.upsert")
        let event = AMQPMessage(exchange: Topology.Exchange.events, routingKey: "allocation.completed",
                                messageID: "allocation-completed-run-1", correlationID: "run-1", body: [])
        #expect(event.replacementForRefusedOutcome() == nil)
    }

    // MARK: - Strict text

    @Test("duplicate keys are malformed")
    func duplicateKeys() throws {
        let text = MessageFixtures.handoverRecord.replacingOccurrences(
            of: "\"submitted_at\"", with: "\"submitted_at\": \"2021-11-25T10:00:00+07:00\", \"submitted_at\"")
        let outcome = try #require(Self.rejection(Self.classify(.handoverRecord, Array(text.utf8))))
        #expect(Self.errors(outcome).map(\.code) == [.malformed])
    }

    /// Every string leaf of every contract example, with a NUL or another control character put in it.
    static let textLeaves: [(String, String)] = {
        var leaves: [(String, String)] = []
        func walk(_ value: JSONValue, _ path: String, _ example: String) {
            switch value {
            case .string: leaves.append((example, path))
            case .array(let elements): for (index, element) in elements.enumerated() { walk(element, "\(path)[\(index)]", example) }
            case .object(let fields):
                for (key, field) in fields { walk(field, path.isEmpty ? key : "\(path).\(key)", example) }
            default: break
            }
        }
        for type in SubmissionType.allCases {
            walk(.object(MessageFixtures.object(MessageFixtures.example(type))), "", type.rawValue)
        }
        for key in CommandKey.allCases {
            walk(.object(MessageFixtures.object(MessageFixtures.example(key))), "", key.rawValue)
        }
        return leaves
    }()

    @Test("a NUL, an escape or a C1 control in any text field is invalid_field with that field's path",
          arguments: textLeaves.map { "\($0.0) \($0.1)" })
    func controlCharactersInTextFields(_ testCase: String) throws {
        let parts = testCase.split(separator: " ", maxSplits: 1).map(String.init)
        let (name, path) = (parts[0], parts[1])
        let commandKey = CommandKey(rawValue: name)
        let example = commandKey.map(MessageFixtures.example) ?? MessageFixtures.example(SubmissionType(rawValue: name)!)
        let original = MessageFixtures.object(example)
        func leaf(_ value: JSONValue, _ steps: [String]) -> String {
            var current = value
            for step in steps {
                if let index = Int(step) { current = current.arrayValue![index] } else { current = current[step]! }
            }
            return current.stringValue!
        }
        let steps = path.replacingOccurrences(of: "[", with: ".").replacingOccurrences(of: "]", with: "")
            .split(separator: ".").map(String.init)
        let value = leaf(.object(original), steps)
        for control in ["\u{0}", "\u{1B}", "\u{85}"] {
            let poisoned = String(value.prefix(2)) + control + String(value.dropFirst(2))
            let body = MessageFixtures.body(example, [Edit(path, .string(poisoned))])
            let message = IncomingMessage.classify(exchange: commandKey == nil ? Self.submissions : Self.commands,
                                                   routingKey: name, messageID: "m-1", body: body)
            let outcome = try #require(Self.rejection(message))
            let errors = Self.errors(outcome)
            #expect(errors.contains { $0.code == .invalidField && $0.field == path },
                    "\(path) with U+\(String(control.unicodeScalars.first!.value, radix: 16)): \(errors)")
        }
    }

    @Test("identifiers: letters and digits of any script and - _ . / : # +, nothing else", arguments: [
        ("LT-000123", true), ("0551010", true), ("TDM-TH-01", true), ("HS-Nguyễn_01", true), ("ΑΒΓ/12:3#4+5", true),
        ("LT 000123", false), ("LT\"1", false), ("<b>", false), ("a&b", false), ("", false), ("x\u{200B}y", false),
        (String(repeating: "x", count: 100), true), (String(repeating: "x", count: 101), false),
    ])
    func identifierRules(text: String, valid: Bool) {
        #expect(Identifier.isValid(text) == valid)
    }

    @Test("a serial number that breaks the identifier rules is invalid_field with its path")
    func serialIdentifierRules() throws {
        let body = MessageFixtures.body(MessageFixtures.equipmentInventory,
                                        [Edit("items[1].serial_numbers[0]", "PJ 77<script>")])
        let outcome = try #require(Self.rejection(Self.classify(.equipmentInventory, body)))
        #expect(Self.errors(outcome).contains { $0.code == .invalidField && $0.field == "items[1].serial_numbers[0]" })
    }

    // MARK: - Message ids

    static func classify(rawID: [UInt8]?, body: [UInt8]) -> IncomingMessage {
        IncomingMessage.classify(exchange: submissions, routingKey: "handover_record", rawID: rawID, body: body)
    }

    @Test("a message_id with NUL, control characters, invalid UTF-8, over 255 bytes or not NFC gets an id from its bytes and the body",
          arguments: [
            Array("portal\u{0}42".utf8), Array("portal-42\n".utf8), [0x70, 0xFF, 0x70], [0xC3], Array(repeating: 0x61, count: 256),
            Array("e\u{301}-1".utf8), Array("id\u{9F}".utf8),
          ])
    func invalidMessageIDs(raw: [UInt8]) throws {
        let body = MessageFixtures.body(MessageFixtures.handoverRecord)
        let outcome = try #require(Self.rejection(Self.classify(rawID: raw, body: body)))
        #expect(outcome.messageID == MessageID.derivedForInvalid(rawID: raw, body: body))
        #expect(outcome.messageID.hasPrefix("invalid-id-sha256-"))
        #expect(Self.errors(outcome).map(\.code) == [.malformed])
        #expect(Self.errors(outcome).map(\.field) == ["message_id"])
        // The same delivery again: the same id (so a redelivery is a duplicate).
        #expect(Self.rejection(Self.classify(rawID: raw, body: body))?.messageID == outcome.messageID)
        #expect(outcome.message.correlationID == outcome.messageID)
    }

    @Test("ids that differ never collide: not after a NUL, not after lossy decoding, not after normalisation")
    func idsNeverCollide() throws {
        let body = MessageFixtures.body(MessageFixtures.handoverRecord)
        let ids: [[UInt8]] = [
            Array("portal-42".utf8), Array("portal-42\u{0}a".utf8), Array("portal-42\u{0}b".utf8),
            [0x70, 0xFF], [0x70, 0xFE], Array("\u{e9}".utf8), Array("e\u{301}".utf8),
        ]
        let derived = ids.map { Self.classify(rawID: $0, body: body).messageID }
        #expect(Set(derived).count == ids.count, "\(derived)")
        #expect(derived[0] == "portal-42")
        #expect(derived[5] == "\u{e9}")
        // As Swift strings the valid ones are also distinct (they compare canonically): only NFC is taken as sent.
        #expect(MessageID.validated(Array("e\u{301}".utf8)) == nil)
    }

    @Test("ids made from a message id always fit an AMQP message_id and stay distinct")
    func fittingIDs() {
        let long = String(repeating: "é", count: 127)  // 254 bytes
        #expect(MessageID.fitting("run-x") == "run-x")
        let a = MessageID.fitting("run-" + long + "a")
        let b = MessageID.fitting("run-" + long + "b")
        #expect(a != b)
        #expect(a.utf8.count <= 255 && b.utf8.count <= 255)
        #expect(Outcome.outcomeID(for: long + "a").utf8.count <= 255)
    }
}
