import Foundation
import Testing

@testable import Shared

/// Hostile events and commands on the `allocations` and `notifications` queues (issue 7): each is answered or
/// rejected with a log line, none stops its queue, and ids made from a message id can always be published.
@Suite("Hostile events integration", .serialized, .integration)
struct HostileEventsIntegrationTests {
    typealias F = Fixtures
    typealias Seed = AllocationSeed

    static func event(_ routingKey: String, id: String, body: [UInt8]) -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.events, routingKey: routingKey, messageID: id, body: body)
    }

    /// Bodies a stranger may publish as an accepted-submission or allocation event.
    static let hostileBodies: [(String, [UInt8])] = [
        ("not-json", Array("\u{1}not json".utf8)),
        ("nul-campaign", Array(#"{"campaign":"vn-song-2021\u0000x","run_id":"run-1","school_code":"TDM-TH-01","allocations":[{"student_ref":"HS-1","device_serial":"LT-1"}]}"#.utf8)),
        ("long-campaign", Array(("{\"campaign\":\"" + String(repeating: "c", count: 3_000_000) + "\"}").utf8)),
        ("number-campaign", Array(#"{"campaign":5}"#.utf8)),
        ("duplicate-keys", Array(#"{"campaign":"vn-song-2021","campaign":"other"}"#.utf8)),
        ("deep", Array((String(repeating: "[", count: 1000) + String(repeating: "]", count: 1000)).utf8)),
        ("nul-run", Array(#"{"campaign":"vn-song-2021","run_id":"run-\u0000","school_code":"TDM-TH-01","allocations":[{"student_ref":"HS-1","device_serial":"LT-1"}]}"#.utf8)),
        ("nul-student", Array(#"{"campaign":"vn-song-2021","run_id":"run-2","school_code":"TDM-TH-01","allocations":[{"student_ref":"HS-\u0000","device_serial":"LT-1"}]}"#.utf8)),
    ]

    @Test func allocationWorkerIgnoresHostileTriggersAndAnswersHostileCommands() throws {
        let harness = try IntegrationHarness(executable: "AllocationWorker")
        defer { harness.shutDown() }
        try harness.seed.deviceCampaign()
        try harness.seed.school("TDM-TH-01", region: "Bình Dương")
        try harness.seed.students([Seed.Student(school: "TDM-TH-01", ref: "HS-1", category: "covid_orphan")])
        let worker = try harness.startWorker()
        try harness.awaitDeadlineRun()

        var messages = Self.hostileBodies.map { name, body in
            Self.event("submission.accepted.donation_record", id: "trigger-\(name)", body: body)
        }
        // Commands with hostile text: answered with a code.
        messages.append(F.command("allocation.run", id: "nul-command", body: ["campaign": "vn-song-2021\u{0}"]))
        messages.append(AMQPMessage(exchange: Topology.Exchange.commands, routingKey: "allocation.run", messageID: "dup-command",
                                    body: Array(#"{"campaign":"vn-song-2021","campaign":"x"}"#.utf8)))
        try harness.publish(messages)
        let nul = try harness.awaitOutcome("nul-command")
        #expect(nul.routingKey == "command.rejected.allocation.run")
        #expect(nul.errorCodes == ["invalid_field"])
        let duplicate = try harness.awaitOutcome("dup-command")
        #expect(duplicate.errorCodes == ["malformed"])

        // A command whose id is as long as AMQP allows: the run's id and its events' ids still fit.
        try harness.seed.devices(batch: "LONG", targets: [nil])
        let longID = "run-command-" + String(repeating: "é", count: 120)
        #expect(longID.utf8.count <= 255)
        let accepted = try harness.send(F.allocationRun(id: longID), timeout: .seconds(20))
        #expect(accepted.routingKey == "command.accepted.allocation.run")
        try harness.waitUntil("the long-id run's allocation.completed is published") {
            harness.events("allocation.completed").contains { $0.body["run_id"]?.stringValue == MessageID.fitting("run-" + longID) }
        }
        #expect(try harness.scalar("SELECT count(*) FROM allocations WHERE device_serial LIKE 'LONG-%'") == 1)
        try harness.waitUntil("the allocations queue is empty") {
            try harness.publisher.queueDepth("allocations").messages == 0
        }
        #expect(try harness.publisher.queueDepth("allocations.dead").messages == 0)
        #expect(worker.isRunning)
        try harness.checkWorkers()
    }

    @Test func notificationWorkerRejectsHostileEventsWithoutStoppingItsQueue() throws {
        let harness = try IntegrationHarness(executable: "NotificationWorker")
        defer { harness.shutDown() }
        try harness.seed.deviceCampaign()
        try harness.seed.school("TDM-TH-01", region: "Bình Dương")
        let worker = try harness.startWorker(extra: ["NOTIFY_INTERVAL_SECONDS": "3600"])
        var messages = Self.hostileBodies.map { name, body in Self.event("allocation.school", id: "school-\(name)", body: body) }
        messages += Self.hostileBodies.map { name, body in Self.event("allocation.completed", id: "completed-\(name)", body: body) }
        // Then a well-formed event that names a run the database does not hold: handled (claimed), no e-mail planned
        // for a school that gets nothing.
        let last = Self.event("allocation.completed", id: "last-event", body: Array(
            #"{"campaign":"vn-song-2021","run_id":"run-last","allocated":0,"waiting":0,"schools":[]}"#.utf8))
        try harness.publish(messages + [last])
        try harness.waitUntil("every event is settled", timeout: .seconds(30)) {
            try harness.publisher.queueDepth("notifications").messages == 0
                && harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id = 'last-event'") == 1
        }
        // Not JSON (garbage, duplicate keys, too deep): dead-lettered for an operator, each once; the rest (no valid
        // campaign, run or school) acknowledged with a log line.
        let dead = try harness.publisher.queueDepth("notifications.dead").messages
        #expect(dead == 6, "dead letters: \(dead)")
        // Each with its failure stored for `schoolict dead list`: the code and the parser's rule, no content.
        #expect(try harness.scalar("""
            SELECT count(*) FROM message_failures WHERE queue = 'notifications' AND code = 'malformed' AND reason LIKE '% at byte %'
            """) == 6)
        #expect(try harness.scalar("SELECT count(*) FROM notifications WHERE campaign <> 'vn-song-2021'") == 0)
        #expect(worker.isRunning)
        try harness.checkWorkers()
    }
}
