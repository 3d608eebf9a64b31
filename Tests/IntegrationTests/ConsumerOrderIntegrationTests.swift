import Foundation
import Testing

@testable import Shared

/// The SubmissionWorker's consumer loops (`CONSUMERS`, 2 by default) take batches from one channel and decide them
/// side by side, but in queue order where it matters: registry changes (`docs/asyncapi.yaml`), and a school's
/// submissions (an `inventory` replaces what an earlier `insert` added), even when they land in batches of
/// different loops. Each test fails when the loops ignore that order (checked by making every batch independent).
@Suite("Consumer loops keep registry order", .serialized, .integration)
struct ConsumerOrderIntegrationTests {
    typealias F = Fixtures

    @Test func aNewSchoolsFirstInventoryInTheNextBatchIsDecidedAfterItsUpsert() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let batch = 20
        let rounds = 40
        func filler(_ index: Int) -> AMQPMessage {
            F.inventory(id: "filler-\(index)", school: F.greekLyceum, submittedAt: "2022-01-14T09:30:00+02:00",
                        items: [F.item("desktop", quantity: index % 5 + 1, year: 2015)])
        }
        func school(_ round: Int) -> F.School {
            let code = String(format: "77%05d", round)
            return F.School(code: code, name: "Σχολείο \(round)", level: "secondary", region: "Ήπειρος",
                            email: "mail@\(code).sch.gr", language: "el", students: 100)
        }
        // Published before the worker starts, so batches fill to exactly `batch`: each upsert is the last message
        // of a batch and its school's first inventory the first of the next one, which the other loop takes.
        var messages = F.registry
        var fillers = 0
        while messages.count < batch {
            messages.append(filler(fillers))
            fillers += 1
        }
        var firstInventories: [String] = []
        for round in 0..<rounds {
            if round > 0 {
                let id = "first-inventory-\(round - 1)"
                messages.append(F.inventory(id: id, school: school(round - 1),
                                            items: [F.item("laptop", quantity: 2, year: 2020)]))
                firstInventories.append(id)
            }
            while messages.count % batch < batch - 1 {
                messages.append(filler(fillers))
                fillers += 1
            }
            messages.append(F.schoolUpsert(id: "upsert-\(round)", school(round)))
        }
        try harness.publish(messages)
        try harness.startWorker(batchSize: batch, extra: ["CONSUMERS": "2"])
        let outcomes = try harness.awaitOutcomes(messages.map(\.messageID), timeout: .seconds(120))

        let refused = firstInventories.filter { outcomes[$0]?.routingKey != "submission.accepted.equipment_inventory" }
        #expect(refused.isEmpty, """
            \(refused.count) of \(firstInventories.count) first inventories were not accepted, e.g. \
            \(refused.prefix(3).map { outcomes[$0]?.body.jsonString ?? $0 })
            """)
        let fillersRefused = outcomes.values.filter { !$0.routingKey.hasPrefix("submission.accepted.")
            && !$0.routingKey.hasPrefix("command.accepted.") }
        #expect(fillersRefused.isEmpty, "\(fillersRefused.prefix(3).map(\.body.jsonString))")
        try harness.checkWorkers()
    }

    @Test func anInventoryInTheNextBatchReplacesTheInsertPublishedBeforeIt() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        let batch = 20
        let rounds = 40
        func school(_ round: Int) -> F.School {
            let code = String(format: "78%05d", round)
            return F.School(code: code, name: "Λύκειο \(round)", level: "secondary", region: "Ήπειρος",
                            email: "mail@\(code).sch.gr", language: "el", students: 100)
        }
        func filler(_ index: Int) -> AMQPMessage {
            F.inventory(id: "filler-\(index)", school: index % 2 == 0 ? F.greekLyceum : F.greekPrimary,
                        items: [F.item("desktop", quantity: index % 5 + 1, year: 2015)])
        }
        var messages = F.registry + (0..<rounds).map { F.schoolUpsert(id: "upsert-\($0)", school($0)) }
        var fillers = 0
        func pad(to position: Int) {
            while messages.count % batch != position {
                messages.append(filler(fillers))
                fillers += 1
            }
        }
        // Each round: an insert for the school last in a batch, its replacing inventory first in the next one.
        for round in 0..<rounds {
            pad(to: batch - 1)
            messages.append(F.inventory(id: "insert-\(round)", school: school(round), procedure: "insert",
                                        items: [F.item("projector", quantity: 1, year: 2021)]))
            messages.append(F.inventory(id: "replace-\(round)", school: school(round), procedure: "inventory",
                                        items: [F.item("desktop", quantity: 10, year: 2018)]))
        }
        try harness.publish(messages)
        try harness.startWorker(batchSize: batch, extra: ["CONSUMERS": "2"])
        let outcomes = try harness.awaitOutcomes(messages.map(\.messageID), timeout: .seconds(120))
        let refused = outcomes.values.filter { !$0.routingKey.hasPrefix("submission.accepted.")
            && !$0.routingKey.hasPrefix("command.accepted.") }
        try #require(refused.isEmpty, "\(refused.prefix(3).map(\.body.jsonString))")

        let rows = try harness.database.query("""
            SELECT school_code, string_agg(submission_id, ',' ORDER BY submission_id) AS submissions
            FROM equipment_records WHERE school_code LIKE '78%' GROUP BY school_code
            """, [])
        let records = try Dictionary(uniqueKeysWithValues: rows.map {
            (try $0.string("school_code"), try $0.string("submissions"))
        })
        let wrong = (0..<rounds).filter { records[school($0).code] != "replace-\($0)" }
        #expect(wrong.isEmpty, """
            \(wrong.count) of \(rounds) schools' records are not just the inventory that replaced the earlier insert, \
            e.g. \(wrong.prefix(3).map { records[school($0).code] ?? "none" })
            """)
        try harness.checkWorkers()
    }
}
