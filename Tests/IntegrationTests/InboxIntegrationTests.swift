import Foundation
import Logging
import Shared
import Synchronization
import Testing
import TestSupport

/// ``Inbox`` against the real PostgreSQL: one row per processed message holds its claim and its outcome, and two
/// workers that processed the same message at once end with one effect and one outcome (migration 0010).
@Suite("Inbox integration", .enabled(if: !TestEnvironment.isSkipped))
struct InboxIntegrationTests {
    static let queue = Topology.QueueName.submissions
    static let key = Inbox.claimKey(queue: queue, stream: Topology.Exchange.submissions, id: "race-1")

    static func outcome(_ text: String) -> AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.events, routingKey: "submission.accepted.equipment_inventory",
                    messageID: Outcome.outcomeID(for: "race-1"), correlationID: "race-1", body: Array(text.utf8))
    }

    @Test func aRecordedMessageIsOneClaimWithItsOutcomeAndADuplicateGetsItAgain() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let database = harness.database
        try database.transaction { database in
            #expect(try Inbox.claimed([Self.key], database: database).isEmpty)
            try Inbox.record([Inbox.Processed(claimKey: Self.key, publishedBy: "portal", outcome: Self.outcome(#"{"a":1}"#))],
                             queue: Self.queue, database: database)
        }
        #expect(try Inbox.claimed([Self.key, "unknown"], database: database) == [Self.key])
        let row = try database.query("SELECT message_id, published_by, outcome_routing_key, outcome_body FROM processed_messages")
        #expect(row.count == 1)
        #expect(try row[0].string(0) == "race-1")
        #expect(try row[0].string(1) == "portal")
        #expect(try row[0].string(2) == "submission.accepted.equipment_inventory")
        #expect(try row[0].string(3) == #"{"a":1}"#)
        // The outcome waits in the outbox for the relay; a duplicate queues the stored one again, identical.
        #expect(try Outbox.pendingCount(database: database) == 1)
        #expect(try Inbox.republish([Self.key, "never-claimed"], database: database) == 1)
        let queued = try Outbox.pending(limit: 10, database: database).map(\.message)
        #expect(queued.count == 2)
        #expect(queued.allSatisfy { $0.messageID == "outcome-race-1" && $0.correlationID == "race-1" && $0.body == Array(#"{"a":1}"#.utf8) })
        // Published: the relay deletes the rows; the claim and its outcome stay.
        try Outbox.published(try Outbox.pending(limit: 10, database: database), database: database)
        #expect(try Outbox.pendingCount(database: database) == 0)
        #expect(try Inbox.storedOutcomes([Self.key], database: database)[Self.key]?.body == Array(#"{"a":1}"#.utf8))
    }

    @Test func twoWorkersRecordingTheSameMessageAtOnceEndWithOneClaimAndTheFirstOutcome() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        // The first worker records the message and has not committed yet.
        try harness.database.execute("BEGIN")
        #expect(try Inbox.claimed([Self.key], database: harness.database).isEmpty)
        try Inbox.record([Inbox.Processed(claimKey: Self.key, publishedBy: nil, outcome: Self.outcome("first"))],
                         queue: Self.queue, database: harness.database)

        // The second processes it too: its record waits for the first, fails once the first commits, and its retry
        // finds the claim and answers with the stored outcome.
        let attempts = Atomic<Int>(0)
        let second = ConcurrentTransaction(databaseURL: harness.scratchDatabase.url) { connection in
            try Inbox.retrying(logger: Logger(label: "test.inbox")) {
                try connection.transaction { connection -> String in
                    attempts.add(1, ordering: .sequentiallyConsistent)
                    if try Inbox.claimed([Self.key], database: connection).contains(Self.key) {
                        try Inbox.republish([Self.key], database: connection)
                        return "duplicate"
                    }
                    try Inbox.record([Inbox.Processed(claimKey: Self.key, publishedBy: nil, outcome: Self.outcome("second"))],
                                     queue: Self.queue, database: connection)
                    return "recorded"
                }
            }
        }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(second.result == nil, "the second record did not wait for the first")
        try harness.database.execute("COMMIT")
        #expect(second.wait(seconds: 10) == "duplicate")
        let attemptCount = attempts.load(ordering: .sequentiallyConsistent)
        #expect(attemptCount == 2)
        #expect(try harness.scalar("SELECT count(*) FROM processed_messages") == 1)
        let bodies = try harness.database.query("SELECT body FROM outbox ORDER BY id").map { try $0.string(0) }
        #expect(bodies == ["first", "first"], "the first outcome, and the same again for the duplicate")
    }

    @Test func migration10MovesStoredOutcomesToTheirClaimsAndKeepsOnlyWhatWaits() throws {
        let environment = try TestEnvironment.load()
        let scratch = try ScratchDatabase(environment: environment)
        defer { scratch.drop() }
        let database = try scratch.connect()
        defer { database.close() }
        var logger = Logger(label: "test.migrator")
        logger.logLevel = .warning
        try Migrator.migrate(database, migrations: Migration.all.filter { $0.version < 10 }, logger: logger)
        try database.execute("""
            INSERT INTO processed_messages (claim_key, queue) VALUES
              ('submissions' || chr(31) || 'schools.submissions' || chr(31) || 'inv-1', 'submissions'),
              ('submissions' || chr(31) || 'schools.commands' || chr(31) || 'inv-1', 'submissions'),
              ('allocations' || chr(31) || 'schools.commands' || chr(31) || 'run-cmd', 'allocations'),
              ('notifications' || chr(31) || 'schools.events' || chr(31) || 'evt-9', 'notifications');
            INSERT INTO outbox (message_id, exchange, routing_key, correlation_id, body, needs_relay, published_at, traceparent,
                                transient) VALUES
              ('outcome-inv-1', 'schools.events', 'submission.rejected.equipment_inventory', 'inv-1', 'failed', true, NULL, NULL,
               true),
              ('outcome-inv-1', 'schools.events', 'submission.accepted.equipment_inventory', 'inv-1', 'sub', true, now(),
               '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', false),
              ('outcome-inv-1', 'schools.events', 'command.rejected.school.upsert', 'inv-1', 'cmd', true, now(), NULL, false),
              ('outcome-run-cmd', 'schools.events', 'command.accepted.allocation.run', 'run-cmd', 'run', false, NULL, NULL, false),
              ('run-x-completed', 'schools.events', 'allocation.completed', NULL, 'waiting', true, NULL, NULL, false),
              ('notification-sent-1', 'schools.events', 'notification.sent', NULL, 'sent', true, now(), NULL, false);
            """)
        try Migrator.migrate(database, logger: logger)

        let stored = try Inbox.storedOutcomes([
            Inbox.claimKey(queue: "submissions", stream: "schools.submissions", id: "inv-1"),
            Inbox.claimKey(queue: "submissions", stream: "schools.commands", id: "inv-1"),
            Inbox.claimKey(queue: "allocations", stream: "schools.commands", id: "run-cmd"),
            Inbox.claimKey(queue: "notifications", stream: "schools.events", id: "evt-9"),
        ], database: database)
        let submission = try #require(stored[Inbox.claimKey(queue: "submissions", stream: "schools.submissions", id: "inv-1")])
        #expect(submission.routingKey == "submission.accepted.equipment_inventory")
        #expect(submission.body == Array("sub".utf8))
        #expect(submission.messageID == "outcome-inv-1")
        #expect(submission.trace?.traceparent == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
        #expect(stored[Inbox.claimKey(queue: "submissions", stream: "schools.commands", id: "inv-1")]?.body == Array("cmd".utf8),
                "a command and a submission of the same id keep their own outcomes")
        #expect(stored[Inbox.claimKey(queue: "allocations", stream: "schools.commands", id: "run-cmd")]?.routingKey
                == "command.accepted.allocation.run")
        #expect(stored.count == 3, "an event's claim has no outcome")
        // Only the event still waiting for the relay stays in the outbox.
        let waiting = try database.query("SELECT body FROM outbox ORDER BY id").map { try $0.string(0) }
        #expect(waiting == ["failed", "waiting"], "what waits for the relay stays, the transient outcome too")
    }
}
