import Foundation
import Testing
import TestSupport

@testable import Shared

/// `Failures` against the real PostgreSQL: a dead-lettered message's transient outcome and its failure record are
/// stored together; the latest record per message is what `schoolict dead list` shows; the reason never carries
/// the server's message.
@Suite("Failures integration", .serialized, .integration)
struct FailuresIntegrationTests {
    typealias F = Fixtures

    static func delivery(_ id: String, exchange: String = Topology.Exchange.submissions, count: Int = 0) -> AMQPDelivery {
        AMQPDelivery(deliveryTag: 1, exchange: exchange, routingKey: "equipment_inventory", messageID: id,
                     deliveryCount: count, body: Array("{}".utf8))
    }

    @Test func aFailureIsStoredWithItsTransientOutcomeAndTheLatestIsFound() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let database = harness.database
        let refusal = PostgresError(code: .queryFailed, sqlState: "23505",
                                    serverMessage: "Key (full_name)=(Zebulon Quagmire) already exists",
                                    constraint: "students_pkey")
        var outcome = Outcome.rejected("f-1", .submission("equipment_inventory"),
                                       [FieldError(.processingFailed, field: "", "kept for an operator")])
        outcome.trace = TraceContext(traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", tracestate: nil)
        try Failures.record(Self.delivery("f-1"), queue: "submissions", outcome: outcome.message,
                            reason: .database(refusal), database: database)
        try Failures.record(Self.delivery("f-1", count: 5), queue: "submissions", outcome: nil,
                            reason: .deliveredTooOften(5), database: database)
        try Failures.record(Self.delivery("f-2", exchange: Topology.Exchange.commands), queue: "submissions",
                            outcome: nil, reason: .database(PostgresError(code: .queryFailed, sqlState: "22001")),
                            database: database)
        try Failures.record(Self.delivery("f-1"), queue: "allocations", outcome: nil, reason: .database(refusal),
                            database: database)

        // The outcome waits for the relay (which deletes it once published), with its trace; it is not a claim, so a
        // replay after a fix is processed afresh.
        let queued = try database.query("SELECT traceparent IS NOT NULL FROM outbox WHERE message_id = 'outcome-f-1'")
        #expect(queued.count == 1)
        #expect(try queued.first?.bool(0) == true)
        #expect(try database.query("SELECT 1 FROM processed_messages WHERE message_id = 'f-1'").isEmpty)

        let latest = try Failures.latest(queue: "submissions", messageIDs: ["f-1", "f-2", "f-3"], database: database)
        #expect(latest.count == 2)
        let first = try #require(latest[Failures.Key(stream: Topology.Exchange.submissions, messageID: "f-1")])
        #expect(first.code == "processing_failed")
        #expect(first.reason == "delivered 5 times without an acknowledgement; not processed", "the latest failure")
        let second = try #require(latest[Failures.Key(stream: Topology.Exchange.commands, messageID: "f-2")])
        #expect(second.reason == "database refused it: SQLSTATE 22001")

        let stored = try database.query("SELECT reason FROM message_failures WHERE queue = 'allocations'")
        #expect(try stored.first?.string(0) == "database refused it: SQLSTATE 23505, constraint students_pkey")
        let everything = try database.query("SELECT string_agg(reason, ' ') FROM message_failures")
        #expect(try !(everything.first?.string(0) ?? "").contains("Zebulon"), "a server message in a stored reason")
    }

    @Test func aFailureAndItsOutcomeAreStoredTogetherOrNotAtAll() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let database = harness.database
        let outcome = Outcome.rejected("f-9", .submission("equipment_inventory"),
                                       [FieldError(.processingFailed, field: "", "kept for an operator")])
        // The failure insert fails (a reason the column refuses): the outcome row must not stay behind.
        try database.execute("ALTER TABLE message_failures ADD CONSTRAINT short_reason CHECK (length(reason) < 10)")
        #expect(throws: PostgresError.self) {
            try Failures.record(Self.delivery("f-9"), queue: "submissions", outcome: outcome.message,
                                reason: .deliveredTooOften(5), database: database)
        }
        #expect(try database.query("SELECT 1 FROM outbox WHERE message_id = 'outcome-f-9'").isEmpty)
    }
}
