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
