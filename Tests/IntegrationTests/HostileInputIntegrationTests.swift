import Foundation
import TestSupport
import Testing

@testable import Shared

/// Hostile messages through the real `SubmissionWorker` (issue 7): each gets one bounded outcome with a code,
/// nothing is dead-lettered, the worker stays alive and takes a valid message within seconds afterwards.
/// Every case here failed against the worker before the limits were written (intake stalled, a dead letter, a
/// cut id, a duplicate key accepted).
@Suite("Hostile input integration", .serialized, .integration)
struct HostileInputIntegrationTests {
    typealias F = Fixtures

    /// An outcome event's body may not grow with what the message held.
    static let outcomeBound = 64 * 1024

    static func needs(id: String, students: [JSONValue]) -> AMQPMessage { F.needsReport(id: id, students: students) }

    static func raw(_ type: String, id: String, body: [UInt8], rawID: [UInt8]? = nil) -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.submissions, routingKey: type, messageID: id, body: body, rawMessageID: rawID)
    }

    static func withInventoryItems(_ items: JSONValue, id: String) -> AMQPMessage {
        var message = F.inventory(id: id, items: [])
        guard case .object(var fields) = try! JSONParser.parse(message.body) else { fatalError() }
        fields["items"] = items
        message.body = JSONValue.object(fields).serialized()
        return message
    }

    // MARK: The cases of the issue, one by one

    @Test func aHugeInventoryIsAnsweredToolargeAndIntakeGoesOn() throws {
        try withWorker { harness in
            // 130 items × 10,000 serial numbers of the wrong type: ~2.6 MB, once a 136 MB rejection.
            let serials = JSONValue.array(Array(repeating: .number(1), count: 10_000))
            let items = JSONValue.array((0..<130).map { _ in
                ["category": "desktop", "quantity": 1, "acquired_year": 2015, "condition": "working", "serial_numbers": serials]
            })
            let huge = Self.withInventoryItems(items, id: "huge-inventory")
            #expect(huge.body.count > 2_000_000)
            try harness.publish(huge, F.inventory(id: "after-huge", items: [F.item("desktop", quantity: 1, year: 2015)]))
            let outcomes = try harness.awaitOutcomes(["huge-inventory", "after-huge"], timeout: .seconds(30))
            let rejected = try #require(outcomes["huge-inventory"])
            #expect(rejected.routingKey == "submission.rejected.equipment_inventory")
            #expect(rejected.errorCodes == ["too_large"])
            #expect(outcomes["after-huge"]?.routingKey == "submission.accepted.equipment_inventory")
            #expect(try harness.publisher.queueDepth("submissions.dead").messages == 0)
        }
    }

    @Test func aSchoolCodeOfMegabytesIsNotEchoed() throws {
        try withWorker { harness in
            let code = String(repeating: "S", count: 3 * 1024 * 1024)
            let outcome = try harness.send(F.inventory(id: "long-code", school: .init(
                code: code, name: "x", level: "secondary", region: "r", email: "a@b.gr", language: "el"),
                items: [F.item("desktop", quantity: 1, year: 2015)]))
            #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
            #expect(outcome.errorFields.contains("school_code"))
            #expect(outcome.body["school_code"] == .null || outcome.body["school_code"] == nil)
            #expect(outcome.body.serialized().count < 2_000)
        }
    }

    @Test func aNulInAStudentNameIsInvalidFieldNotADeadLetter() throws {
        try withWorker { harness in
            let outcome = try harness.send(Self.needs(id: "nul-name", students: [
                F.student("HS-1", "Nguyễn\u{0}Văn An", grade: 4, "covid_orphan"),
                F.student("HS-2", "Trần Thị Bình", grade: 3, "poor_household"),
            ]))
            #expect(outcome.routingKey == "submission.rejected.device_need_report")
            #expect(outcome.errorCodes == ["invalid_field"])
            #expect(outcome.errorFields == ["students[0].full_name"])
            #expect(try harness.publisher.queueDepth("submissions.dead").messages == 0)
            #expect(try harness.scalar("SELECT count(*) FROM students") == 0)
        }
    }

    @Test func aMessageIDWithANulIsNeverTakenForAnotherMessage() throws {
        try withWorker { harness in
            let victim = F.inventory(id: "victim", items: [F.item("desktop", quantity: 1, year: 2015)])
            let accepted = try harness.send(victim)
            #expect(accepted.routingKey == "submission.accepted.equipment_inventory")
            // The same id with a NUL and more after it, and another body.
            let body = F.inventory(id: "x", items: [F.item("laptop", quantity: 2, year: 2016)]).body
            let raw = Array("victim\u{0}-2".utf8)
            let derived = MessageID.derivedForInvalid(rawID: raw, body: body)
            try harness.publish(Self.raw("equipment_inventory", id: "victim", body: body, rawID: raw))
            let outcome = try harness.awaitOutcome(derived)
            #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
            #expect(outcome.errorCodes == ["malformed"])
            #expect(outcome.errorFields == ["message_id"])
            #expect(outcome.messageID == "outcome-" + derived)
            try harness.outcomes.drain(for: .seconds(1))
            #expect(harness.outcomes.outcomes(of: "victim").count == 1)
            #expect(try harness.scalar("SELECT count(*) FROM submissions") == 1)
        }
    }

    @Test func duplicateKeysAreMalformed() throws {
        try withWorker { harness in
            let text = #"{"campaign": "gr-ict-2022", "school_code": "0551010", "submitted_by": "mail@0551010.sch.gr", "submitted_at": "2022-01-14T09:30:00+02:00", "submitted_at": "2022-01-30T09:30:00+02:00", "procedure": "insert", "items": [{"category": "desktop", "quantity": 1, "acquired_year": 2015, "condition": "working"}]}"#
            let outcome = try harness.send(Self.raw("equipment_inventory", id: "dup-keys", body: Array(text.utf8)))
            #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
            #expect(outcome.errorCodes == ["malformed"])
            #expect(try harness.scalar("SELECT count(*) FROM submissions") == 0)
        }
    }

    @Test func aBodyOverMaxMessageBytesIsTooLarge() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker(extra: ["MAX_MESSAGE_BYTES": "1048576"])
        _ = try harness.send(F.registry)
        let students = (0..<9_000).map { F.student("HS-\($0)", String(repeating: "Nguyễn Văn An ", count: 10), grade: 4, "covid_orphan") }
        let big = Self.needs(id: "over-limit", students: students)
        #expect(big.body.count > 1_048_576)
        let outcome = try harness.send(big)
        #expect(outcome.routingKey == "submission.rejected.device_need_report")
        #expect(outcome.errorCodes == ["too_large"])
        // The campaign is not echoed: the body was never parsed.
        #expect(outcome.body["campaign"] == .null || outcome.body["campaign"] == nil)
        try harness.checkWorkers()
    }

    // MARK: A mixed hostile load

    /// Builds the load: every kind of hostile message a few times, with valid ones in between.
    static func hostileLoad() -> (messages: [AMQPMessage], expected: [String: Set<String>]) {
        var messages: [AMQPMessage] = []
        var expected: [String: Set<String>] = [:]
        func add(_ message: AMQPMessage, _ codes: Set<String>, outcomeID: String? = nil) {
            messages.append(message)
            expected[outcomeID ?? message.messageID] = codes
        }
        let validItems = [F.item("desktop", quantity: 1, year: 2015)]
        let inventoryBody = F.inventory(id: "x", items: validItems).body
        for round in 0..<10 {
            let r = "\(round)"
            add(F.inventory(id: "ok-\(r)", submittedAt: "2022-01-1\(round % 9)T09:30:00+02:00", items: validItems), ["accepted"])
            add(Self.needs(id: "nul-name-\(r)", students: [F.student("HS-\(r)", "An\u{0}", grade: 4, "covid_orphan")]),
                ["invalid_field"])
            add(Self.needs(id: "esc-name-\(r)", students: [F.student("HS-\(r)", "An\u{1B}[31m", grade: 4, "covid_orphan")]),
                ["invalid_field"])
            add(F.inventory(id: "bad-serial-\(r)", items: [F.item("laptop", quantity: 1, year: 2019, serials: ["A B<\(r)>"])]),
                ["invalid_field"])
            add(Self.raw("equipment_inventory", id: "dup-\(r)", body: Array(
                (#"{"campaign":"gr-ict-2022","campaign":"x","r":"# + r + "}").utf8)), ["malformed"])
            add(Self.raw("equipment_inventory", id: "deep-\(r)", body: Array(
                (String(repeating: "[", count: 500) + r + String(repeating: "]", count: 500)).utf8)), ["malformed"])
            add(Self.raw("equipment_inventory", id: "utf8-\(r)", body: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D] + Array(r.utf8)),
                ["malformed"])
            add(Self.raw("equipment_inventory", id: "surrogate-\(r)", body: Array(#"{"campaign":"\ud800","r":\#(r)}"#.utf8)),
                ["malformed"])
            add(Self.raw("equipment_inventory", id: "huge-number-\(r)",
                         body: Array((#"{"items":[{"quantity":1e999}],"r":"# + r + "}").utf8)), ["malformed"])
            add(Self.withInventoryItems(.array([["category": "desktop", "quantity": .number(1e300), "acquired_year": -0.5,
                                                 "condition": "working"]]), id: "odd-numbers-\(r)"), ["invalid_field"])
            for raw in [Array("id\u{0}\(r)".utf8), [0x69, 0xFF, UInt8(48 + round)], Array("id\n\(r)".utf8),
                        Array("e\u{301}\(r)".utf8)] {
                let body = inventoryBody
                add(Self.raw("equipment_inventory", id: "-", body: body, rawID: raw), ["malformed"],
                    outcomeID: MessageID.derivedForInvalid(rawID: raw, body: body))
            }
            add(Self.raw("equipment_inventory", id: "long-id-" + r + String(repeating: "x", count: 240), body: inventoryBody),
                ["accepted", "invalid_field", "duplicate_serial"])
        }
        // The heavy ones, a few times each.
        for round in 0..<3 {
            let serials = JSONValue.array(Array(repeating: .number(1), count: 10_000))
            add(Self.withInventoryItems(.array((0..<130).map { _ in
                ["category": "desktop", "quantity": 1, "acquired_year": 2015, "condition": "working", "serial_numbers": serials]
            }), id: "huge-\(round)"), ["too_large"])
            add(Self.needs(id: "too-many-students-\(round)",
                           students: (0...MessageLimits.maximumStudents).map { F.student("HS-\($0)", "A", grade: 4, "covid_orphan") }),
                ["too_large"])
            add(Self.raw("equipment_inventory", id: "values-\(round)", body: Array(
                ("[" + Array(repeating: "0", count: MessageLimits.maximumJSONValues + 1).joined(separator: ",") + "]").utf8)),
                ["too_large"])
            let wide = JSONValue.array((0..<1000).map { _ in
                ["category": "desktop", "quantity": 20, "acquired_year": 2015, "condition": "working",
                 "serial_numbers": .array(Array(repeating: .bool(true), count: 20))]
            })
            add(Self.withInventoryItems(wide, id: "many-errors-\(round)"), ["invalid_field"])
        }
        return (messages, expected)
    }

    @Test func aMixedHostileLoadGetsOneBoundedOutcomeEachAndNothingDies() throws {
        try withWorker { harness in
            let worker = try #require(harness.workers.first)
            let (messages, expected) = Self.hostileLoad()
            try harness.publish(messages)
            try harness.awaitOutcomes(Array(expected.keys), timeout: .seconds(120))
            try harness.outcomes.drain(for: .seconds(2))
            for (id, codes) in expected {
                let outcomes = harness.outcomes.outcomes(of: id)
                #expect(outcomes.count == 1, "\(id): \(outcomes.count) outcomes")
                guard let outcome = outcomes.first else { continue }
                let got = outcome.routingKey.hasPrefix("submission.accepted.") ? "accepted" : (outcome.errorCodes.first ?? "-")
                #expect(codes.contains(got), "\(id): \(got) \(outcome.body.serialized().count) bytes")
                #expect(outcome.body.serialized().count < Self.outcomeBound, "\(id)")
                #expect((outcome.body["errors"]?.arrayValue?.count ?? 0) <= MessageLimits.maximumErrors)
            }
            #expect(worker.isRunning)
            #expect(try harness.publisher.queueDepth("submissions.dead").messages == 0)
            let peak = Self.peakRSSKiB(pid: worker.pid)
            print("hostile load: \(messages.count) messages, \(messages.reduce(0) { $0 + $1.body.count } / 1024) KiB, "
                  + "worker peak RSS \(peak / 1024) MiB")
            #expect(peak < 1024 * 1024, "peak RSS \(peak) KiB")

            // Intake goes on: a valid message is accepted within seconds.
            let started = ContinuousClock.now
            let after = try harness.send(F.inventory(id: "valid-after-load", submittedAt: "2022-01-19T10:00:00+02:00",
                                                     items: [F.item("printer", quantity: 1, year: 2018)]),
                                         timeout: .seconds(5))
            #expect(after.routingKey == "submission.accepted.equipment_inventory")
            print("hostile load: valid message accepted \(ContinuousClock.now - started) after the load")
        }
    }

    /// `VmHWM` (peak resident set) of a process, in KiB; 0 when unreadable.
    static func peakRSSKiB(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
        }
        return 0
    }

    fileprivate func withWorker(_ body: (IntegrationHarness) throws -> Void) throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker()
        let outcomes = try harness.send(F.registry)
        let rejected = outcomes.values.filter { !$0.routingKey.hasPrefix("command.accepted.") }
        try #require(rejected.isEmpty, "seeding the registry failed: \(rejected)")
        try body(harness)
        try harness.checkWorkers()
    }
}

extension HostileInputIntegrationTests {
    /// Quorum queues add `x-delivery-count` only on redelivery: on a first delivery a publisher's own header would
    /// reach the worker and pass for a poison message's count.
    @Test func aForgedDeliveryCountHeaderDoesNotMakeAMessagePoison() throws {
        try withWorker { harness in
            var message = F.inventory(id: "forged-count", items: [F.item("desktop", quantity: 1, year: 2015)])
            message.headers = [("x-delivery-count", .int(50))]
            let outcome = try harness.send(message)
            #expect(outcome.routingKey == "submission.accepted.equipment_inventory", "\(outcome.body.jsonString)")
            #expect(try harness.publisher.queueDepth("submissions.dead").messages == 0)
        }
    }
}

extension HostileInputIntegrationTests {
    /// 2,000 mutations of the decoder's corpus through a running worker: one outcome each, nothing dead-lettered.
    @Test func aMutationFuzzLoadIsAnsweredOnceEachWithNothingDeadLettered() throws {
        try withWorker { harness in
            var random = SplitMix64(seed: 0x2000)
            var messages: [AMQPMessage] = []
            // What each message is answered under: its id (sent or derived) and its stream (submission or command:
            // ids are claimed per stream, so the same id on both is two messages with two outcomes).
            var answers: [(id: String, family: String)] = []
            for index in 0..<2_000 {
                let entry = DecoderCorpus.mutated(random: &random)
                // Every eighth id is mutated too (NUL, invalid UTF-8, controls…); the outcome then has a derived id.
                var raw = Array("fuzz-\(index)".utf8)
                if random.next() % 8 == 0 { raw = DecoderCorpus.mutate(raw, donor: [], random: &random) }
                let message = AMQPMessage(exchange: entry.exchange, routingKey: entry.routingKey, messageID: "-",
                                          body: entry.body, rawMessageID: raw)
                messages.append(message)
                answers.append((IncomingMessage.identify(exchange: entry.exchange, routingKey: entry.routingKey,
                                                         rawID: raw, body: entry.body).id,
                                entry.exchange == Topology.Exchange.commands ? "command." : "submission."))
            }
            try harness.publish(messages)
            try harness.awaitOutcomes(Array(Set(answers.map(\.id))), timeout: .seconds(120))
            try harness.outcomes.drain(for: .seconds(2))
            var kinds: [String: Int] = [:]
            for family in ["submission.", "command."] {
                for id in Set(answers.filter { $0.family == family }.map(\.id)) {
                    let outcomes = harness.outcomes.outcomes(of: id).filter { $0.routingKey.hasPrefix(family) }
                    // Mutations can repeat a message (an id mutated away is derived from the body): its outcome is
                    // then published again, at most once per copy (copies in one batch share one publish), the same.
                    let sent = answers.filter { $0.id == id && $0.family == family }.count
                    #expect((1...sent).contains(outcomes.count), "\(id): \(outcomes.count) outcomes for \(sent) messages")
                    #expect(Set(outcomes.map { $0.body.serialized() }).count == 1, "\(id): outcomes differ")
                    for outcome in outcomes { #expect(outcome.body.serialized().count < Self.outcomeBound) }
                    let first = outcomes.first
                    kinds[first.map { $0.routingKey.contains(".accepted.") ? "accepted" : ($0.errorCodes.first ?? "-") } ?? "none",
                          default: 0] += 1
                }
            }
            print("mutation fuzz through the worker: \(messages.count) messages, \(kinds.sorted { $0.key < $1.key })")
            #expect(kinds["processing_failed"] == nil)
            #expect(try harness.publisher.queueDepth("submissions.dead").messages == 0)
            #expect(harness.workers.allSatisfy { $0.isRunning })
        }
    }
}
