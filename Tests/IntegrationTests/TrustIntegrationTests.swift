import Foundation
import Testing

@testable import Shared

/// Who published, claims per stream, backdating (issue 8), through the real SubmissionWorker.
@Suite("Trust integration", .serialized, .integration)
struct TrustIntegrationTests {
    typealias F = Fixtures

    private func withWorker(_ body: (IntegrationHarness) throws -> Void) throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker()
        let outcomes = try harness.send(F.registry)
        try #require(outcomes.values.allSatisfy { $0.routingKey.hasPrefix("command.accepted.") })
        try body(harness)
        try harness.checkWorkers()
    }

    @Test func aSubmissionCannotPreemptACommandsIDNorTheOtherWayRound() throws {
        try withWorker { harness in
            // A portal guesses the id the ministry will give its next campaign.upsert, and uses it first.
            let guessed = "campaign-gr-2022-extension"
            let squatter = F.inventory(id: guessed, items: [F.item("desktop", quantity: 1, year: 2015)])
            let first = try harness.send(squatter)
            #expect(first.routingKey == "submission.accepted.equipment_inventory")
            let command = F.greekCampaignUpsert(id: guessed, deadline: "2022-01-31T23:59:59+02:00")
            try harness.publish(command)
            try harness.outcomes.collect(timeout: .seconds(20), abort: harness.checkWorkers) { _ in
                harness.outcomes.outcomes(of: guessed).contains { $0.routingKey.hasPrefix("command.") }
            }
            let answers = harness.outcomes.outcomes(of: guessed)
            #expect(answers.map(\.routingKey).sorted() == ["command.accepted.campaign.upsert",
                                                           "submission.accepted.equipment_inventory"])
            #expect(answers.first { $0.routingKey.hasPrefix("command.") }?.summary?["deadline_changed"] == .bool(true))
            let deadline = try harness.database.query("SELECT deadline FROM campaigns WHERE campaign = $1", [F.greekCampaign])
            #expect(try deadline[0].date(0) == ISO8601.parse("2022-01-31T23:59:59+02:00")!.date)
            // Each is claimed once, under its own stream; a redelivered copy of either is still a duplicate.
            try harness.publish(squatter, command)
            try harness.outcomes.drain(for: .seconds(2))
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id = $1", [guessed]) == 2)
            #expect(try harness.scalar("SELECT count(*) FROM submissions") == 1)
            let repeated = harness.outcomes.outcomes(of: guessed)
            #expect(repeated.count == 4)
            #expect(Set(repeated.map { $0.body.serialized() }).count == 2, "a duplicate got a different outcome")
        }
    }

    @Test func theBrokerValidatedUserIsStoredAndSaidInTheOutcome() throws {
        try withWorker { harness in
            var message = F.inventory(id: "signed-1", items: [F.item("desktop", quantity: 1, year: 2015)])
            message.userID = harness.environment.amqpURL.user
            let outcome = try harness.send(message)
            #expect(outcome.body["published_by"]?.stringValue == harness.environment.amqpURL.user)
            let row = try harness.database.query("SELECT published_by FROM submissions WHERE message_id = 'signed-1'")
            #expect(try row[0].optionalString(0) == harness.environment.amqpURL.user)
            let claim = try harness.database.query("SELECT published_by FROM processed_messages WHERE message_id = 'signed-1'")
            #expect(try claim[0].optionalString(0) == harness.environment.amqpURL.user)
            // Another user's name is refused by the broker itself: nobody can publish as someone else.
            let forger = try AMQPConnection(url: harness.virtualHost.amqpURL)
            defer { forger.close() }
            var forged = F.inventory(id: "signed-2", items: [F.item("desktop", quantity: 1, year: 2015)])
            forged.userID = "ministry-operator"
            let refused = #expect(throws: AMQPError.self) { try forger.publishConfirmed([forged]) }
            #expect(refused?.replyCode == 406)
            // Without a user_id the outcome says nothing of who published.
            let anonymous = try harness.send(F.inventory(id: "unsigned-1", items: [F.item("desktop", quantity: 1, year: 2015)]))
            #expect(anonymous.body["published_by"] == nil)
        }
    }

    @Test func aSubmissionBackdatedBeyondTheCampaignsLagIsFlagged() throws {
        try withWorker { harness in
            // The workers' clock reads 1 February 2022, 10:00 (Athens); the Greek campaign keeps the default 24 h.
            let recent = F.inventory(id: "recent", school: F.greekPrimary, submittedAt: "2022-02-01T08:30:00+02:00",
                                     items: [F.item("desktop", quantity: 1, year: 2015)])
            let old = F.inventory(id: "backdated", submittedAt: "2022-01-20T09:00:00+02:00",
                                  items: [F.item("desktop", quantity: 1, year: 2015)])
            let outcomes = try harness.send([recent, old])
            #expect(outcomes["backdated"]?.status == "on_time", "submitted_at stays authoritative")
            let rows = try harness.database.query("""
                SELECT message_id, backdated, received_at FROM submissions ORDER BY message_id
                """)
            let flags = Dictionary(uniqueKeysWithValues: try rows.map { (try $0.string(0), try $0.bool(1)) })
            #expect(flags == ["backdated": true, "recent": false])
            // A campaign may allow a longer lag (a region whose schools submit from paper forms, say).
            let patient = F.command("campaign.upsert", id: "gr-patient", body: [
                "campaign": .string(F.greekCampaign), "kind": "equipment_inventory", "title": "Απογραφή",
                "opens_at": "2021-12-01T00:00:00+02:00", "deadline": .string(F.greekDeadline), "timezone": "Europe/Athens",
                "max_submission_lag": 720,
            ])
            #expect(try harness.send(patient).routingKey == "command.accepted.campaign.upsert")
            _ = try harness.send(F.inventory(id: "backdated-but-allowed", school: F.greekPrimary,
                                             submittedAt: "2022-01-20T09:00:00+02:00",
                                             items: [F.item("printer", quantity: 1, year: 2015)]))
            #expect(try harness.scalar("SELECT count(*) FROM submissions WHERE message_id = 'backdated-but-allowed' AND NOT backdated") == 1)
        }
    }
}
