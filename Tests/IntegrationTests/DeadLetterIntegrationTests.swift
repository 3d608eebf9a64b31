import Foundation
import TestSupport
import Testing

@testable import Shared

/// `schoolict dead` against real dead letters (issue 9): listed and shown without being consumed (names masked),
/// replayed to where they died with the same id, accepted, and gone from `<queue>.dead`; purge removes exactly
/// what the filter says.
@Suite("Dead letters integration", .serialized, .integration)
struct DeadLetterIntegrationTests {
    typealias F = Fixtures

    static func cli(_ harness: IntegrationHarness, _ arguments: [String]) throws -> String {
        var environment = ProcessInfo.processInfo.environment
        environment["AMQP_URL"] = harness.virtualHost.amqpURLString
        environment["DATABASE_URL"] = harness.scratchDatabase.url
        return try ProvisioningIntegrationTests.CLI.run(arguments, environment: environment)
    }

    /// Messages rejected without requeue by a consumer of the `submissions` queue: the broker dead-letters them.
    static func deadLetter(_ messages: [AMQPMessage], harness: IntegrationHarness) throws {
        try harness.publish(messages)
        let consumer = try AMQPConnection(url: harness.virtualHost.amqpURL)
        defer { consumer.close() }
        try consumer.startConsuming(queue: Topology.QueueName.submissions, prefetch: 100)
        var rejected = 0
        while rejected < messages.count, let delivery = try consumer.nextDelivery(timeout: .seconds(5)) {
            try consumer.reject(delivery.deliveryTag, requeue: false)
            rejected += 1
        }
        try consumer.cancelConsuming()
        try #require(rejected == messages.count)
        let deadline = ContinuousClock.now + .seconds(10)
        while try harness.publisher.queueDepth("submissions.dead").messages < messages.count, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }
    }

    /// A message that fails on its own (given back five times unacknowledged, as if it crashed the worker each
    /// time) is dead-lettered by the worker with a `processing_failed` outcome; `dead list` shows the code and reason
    /// the worker stored beside it, and `-` beside a dead letter no worker failed.
    @Test func aMessageThatFailedOnItsOwnIsListedWithItsStoredCodeAndReason() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try Self.deadLetter([F.inventory(id: "dl-plain", items: [F.item("printer", quantity: 1, year: 2018)])],
                            harness: harness)
        try harness.publish(F.inventory(id: "dl-poison", school: F.greekPrimary, items: [F.item("desktop", quantity: 2, year: 2019)]))
        let bouncer = try AMQPConnection(url: harness.virtualHost.amqpURL)
        defer { bouncer.close() }
        try bouncer.startConsuming(queue: Topology.QueueName.submissions, prefetch: 10)
        for _ in 0..<5 {
            let delivery = try #require(try bouncer.nextDelivery(timeout: .seconds(10)))
            try bouncer.reject(delivery.deliveryTag, requeue: true)
        }
        try bouncer.cancelConsuming()
        bouncer.close()

        try harness.startWorker()
        let outcome = try harness.awaitOutcome("dl-poison")
        #expect(outcome.routingKey == "submission.rejected.equipment_inventory")
        #expect(outcome.body["errors"]?.arrayValue?.first?["code"]?.stringValue == "processing_failed")
        let deadline = ContinuousClock.now + .seconds(10)
        while try harness.publisher.queueDepth("submissions.dead").messages < 2, ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.1)
        }

        let list = try Self.cli(harness, ["dead", "list", "--queue", "submissions"])
        let lines = list.split(separator: "\n").map(String.init)
        let poison = try #require(lines.first { $0.hasPrefix("dl-poison ") }, "\(list)")
        #expect(poison.contains("  processing_failed (delivered "), "\(poison)")
        #expect(poison.contains(" times without an acknowledgement; not processed)"), "\(poison)")
        let plain = try #require(lines.first { $0.hasPrefix("dl-plain ") }, "\(list)")
        #expect(plain.hasSuffix("  -"), "no failure stored for a message no worker failed: \(plain)")
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 2, "listing consumes nothing")
        let show = try Self.cli(harness, ["dead", "show", "--queue", "submissions", "--id", "dl-poison"])
        #expect(show.contains("processing_failed (delivered "), "\(show)")
        // The outcome was published and its outbox row deleted; it was never stored as a claim. The failure record stays.
        #expect(try harness.scalar("SELECT count(*) FROM message_failures WHERE message_id = 'dl-poison'") == 1)
        #expect(try harness.scalar("SELECT count(*) FROM outbox WHERE message_id = 'outcome-dl-poison'") == 0)
        #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id = 'dl-poison'") == 0)
        try harness.checkWorkers()
    }

    @Test func listShowReplayAndPurge() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let inventory = F.inventory(id: "dl-inventory", items: [F.item("desktop", quantity: 2, year: 2016)])
        let report = F.needsReport(id: "dl-needs", students: [F.student("HS-1", "Zebulon Quagmire", grade: 4, "covid_orphan")])
        let other = F.inventory(id: "dl-other", school: F.greekPrimary, items: [F.item("printer", quantity: 1, year: 2018)])
        try Self.deadLetter([inventory, report, other], harness: harness)
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 3)

        // list: one line each, where they died and why; nothing consumed.
        let list = try Self.cli(harness, ["dead", "list", "--queue", "submissions"])
        #expect(list.contains("dl-inventory") && list.contains("dl-needs") && list.contains("dl-other"), "\(list)")
        #expect(list.contains("schools.submissions equipment_inventory") && list.contains("rejected×1"), "\(list)")
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 3)
        // show: the body, names masked.
        let show = try Self.cli(harness, ["dead", "show", "--queue", "submissions", "--id", "dl-needs"])
        #expect(show.contains("HS-1") && show.contains("***"), "\(show)")
        #expect(!show.contains("Zebulon") && !show.contains("Quagmire"), "a name in the output: \(show)")
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 3)

        // replay one, to the exchange and key it died from: the worker accepts it under its own id.
        try harness.startWorker()
        _ = try harness.send(F.registry)
        let dryRun = try Self.cli(harness, ["dead", "replay", "--queue", "submissions", "--id", "dl-inventory", "--dry-run"])
        #expect(dryRun.contains("would replay"))
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 3)
        _ = try Self.cli(harness, ["dead", "replay", "--queue", "submissions", "--id", "dl-inventory"])
        let outcome = try harness.awaitOutcome("dl-inventory")
        #expect(outcome.routingKey == "submission.accepted.equipment_inventory")
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 2)

        // purge: exactly the one asked for; bulk needs --yes when not on a terminal.
        #expect(throws: (any Error).self) { _ = try Self.cli(harness, ["dead", "purge", "--queue", "submissions", "--all"]) }
        #expect(try harness.publisher.queueDepth("submissions.dead").messages == 2)
        _ = try Self.cli(harness, ["dead", "purge", "--queue", "submissions", "--id", "dl-other"])
        let remaining = try Self.cli(harness, ["dead", "list", "--queue", "submissions"])
        #expect(remaining.contains("dl-needs") && !remaining.contains("dl-other") && !remaining.contains("dl-inventory"), "\(remaining)")
        try harness.checkWorkers()
    }
}
