import Foundation
import Testing

@testable import Shared

/// The SubmissionWorker's consumer loops (`CONSUMERS`, 2 by default) take batches side by side from one channel;
/// registry changes still apply in queue order (`docs/asyncapi.yaml`): a school's first inventory, published just
/// after its `school.upsert`, is decided after it even when the two land in batches of different loops.
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
}
