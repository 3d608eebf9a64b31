import Foundation
import Logging
import PostgresClient
import Shared
import Testing
import TestSupport

@testable import SubmissionWorker

/// `SubmissionStore` against the real PostgreSQL: what two workers writing at once leave behind.
@Suite("SubmissionStore against PostgreSQL", .enabled(if: !TestEnvironment.isSkipped))
struct SubmissionStoreDatabaseTests {
    /// An accepted `inventory` (it replaces the school's record) for the secondary school, without serials.
    static func replacingInventory(id: String) throws -> SubmissionEffects {
        let submission = try RuleFixtures.submission(.equipmentInventory, SubmissionEffectsTests.secondary + [
            RuleFixtures.Edit("submitted_at", "2022-01-15T09:30:00+02:00"), RuleFixtures.Edit("procedure", "inventory"),
            RuleFixtures.Edit("items", [["category": "laptop", "quantity": 2, "acquired_year": 2021, "condition": "working"]]),
        ])
        var effects = SubmissionEffects()
        var context = RuleFixtures.context()
        let decision = SubmissionEffectsTests.process(submission, id: id, effects: &effects, context: &context)
        guard case .accepted = decision else { throw HarnessError("the fixture inventory was not accepted: \(decision)") }
        return effects
    }

    /// A connection to `scratch`, migrated, with the Greek inventory campaign registered.
    static func connectWithCampaign(_ scratch: ScratchDatabase) throws -> PostgresConnection {
        let connection = try scratch.connect()
        do {
            try Migrator.migrate(connection, logger: Logger(label: "test.migrator"))
            try connection.execute("""
                INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone)
                VALUES ('gr-ict-2022', 'equipment_inventory', 'test', '2022-01-10T00:00:00+02:00',
                        '2022-01-21T23:59:59+02:00', 'Europe/Athens')
                """)
        } catch {
            connection.close()
            throw error
        }
        return connection
    }

    @Test func twoWorkersReplacingOneSchoolsRecordAtOnceLeaveOnlyTheLaterOne() throws {
        let scratch = try ScratchDatabase(environment: try TestEnvironment.load())
        defer { scratch.drop() }
        let first = try Self.connectWithCampaign(scratch)
        defer { first.close() }
        try first.execute("BEGIN")
        try SubmissionStore.write(try Self.replacingInventory(id: "inv-first"), database: first)

        // A second worker replaces the same school's record while the first has not committed.
        let second = ConcurrentTransaction(databaseURL: scratch.url) { connection in
            try connection.execute("BEGIN")
            try SubmissionStore.write(try Self.replacingInventory(id: "inv-second"), database: connection)
            try connection.execute("COMMIT")
            return "committed"
        }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(second.result == nil, "the second replacement did not wait for the first")
        try first.execute("COMMIT")
        #expect(second.wait(seconds: 10) == "committed")

        // The second saw the first's record once it committed, and replaced it.
        let records = try first.query("SELECT submission_id FROM equipment_records WHERE school_code = '0551020'")
            .map { try $0.string(0) }
        #expect(records == ["inv-second"])
        #expect(try first.query("SELECT count(*)::int FROM equipment_items WHERE school_code = '0551020'")[0].int(0) == 1)
    }

    @Test func aMessageAnotherWorkerIsStillCommittingIsAnsweredAsADuplicateNotDeadLettered() throws {
        let scratch = try ScratchDatabase(environment: try TestEnvironment.load())
        defer { scratch.drop() }
        let first = try Self.connectWithCampaign(scratch)
        defer { first.close() }
        try first.execute("""
            INSERT INTO schools (school_code, name, level, region, official_email, language)
            VALUES ('0551010', 'test', 'primary', 'Attica', 'mail@0551010.sch.gr', 'el');
            """)
        let delivery = AMQPDelivery(deliveryTag: 1, exchange: Topology.Exchange.submissions, routingKey: "equipment_inventory",
                                    messageID: "inv-race", body: Array(ContractExamples.equipmentInventory.utf8))
        let clock = SchoolClock(start: RuleFixtures.date("2022-01-14T10:00:00+02:00"))
        // The first worker processed the message; its transaction has not committed yet (a connection to the broker
        // lost meanwhile: the broker gave the message to another worker).
        try first.execute("BEGIN")
        let firstResult = try SubmissionProcessor(clock: clock, logger: Logger(label: "test.first")).handle([delivery], database: first)
        #expect(firstResult.counts == ["accepted": 1])

        let second = ConcurrentTransaction(databaseURL: scratch.url) { connection in
            let result = try SubmissionProcessor(clock: clock, logger: Logger(label: "test.second")).handle([delivery], database: connection)
            return "\(result.counts) dead-lettered \(result.deadLetter.count)"
        }
        Thread.sleep(forTimeInterval: 0.5)
        #expect(second.result == nil, "the second worker did not wait for the first")
        try first.execute("COMMIT")
        #expect(second.wait(seconds: 10) == "[\"duplicate\": 1] dead-lettered 0")
        #expect(try first.query("SELECT count(*)::int FROM submissions")[0].int(0) == 1)
        #expect(try first.query("SELECT count(*)::int FROM processed_messages")[0].int(0) == 1)
        #expect(try first.query("SELECT count(*)::int FROM message_failures")[0].int(0) == 0)
    }
}
