import Foundation
import Testing

@testable import Shared

/// W3C trace context through the workers (issue 9): a submission's `traceparent` reaches its outcome, an
/// `allocation.run`'s reaches its outcome and its run's events, each a new span of the same trace.
@Suite("Trace context integration", .serialized, .integration)
struct TraceIntegrationTests {
    typealias F = Fixtures
    static let traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

    @Test func aSubmissionsTraceReachesItsOutcome() throws {
        let harness = try IntegrationHarness()
        defer { harness.shutDown() }
        try harness.startWorker()
        _ = try harness.send(F.registry)
        var traced = F.inventory(id: "traced-1", items: [F.item("desktop", quantity: 1, year: 2015)])
        traced.headers = [("traceparent", .string(Self.traceparent)), ("tracestate", .string("schoolict=portal"))]
        var hostile = F.inventory(id: "traced-2", items: [F.item("desktop", quantity: 1, year: 2015)])
        hostile.headers = [("traceparent", .string("00-" + String(repeating: "z", count: 32) + "-b7ad6b7169203331-01"))]
        let outcomes = try harness.send([traced, hostile])
        let trace = try #require(outcomes["traced-1"]?.trace)
        #expect(trace.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(trace.parentID != "b7ad6b7169203331")
        #expect(trace.state == "schoolict=portal")
        #expect(outcomes["traced-2"]?.trace == nil)
        #expect(outcomes["traced-2"]?.routingKey == "submission.accepted.equipment_inventory", "a bad header changes nothing else")
        try harness.checkWorkers()
    }

    @Test func anAllocationRunsTraceReachesItsEvents() throws {
        let harness = try IntegrationHarness(executable: "AllocationWorker")
        defer { harness.shutDown() }
        try harness.seed.deviceCampaign()
        try harness.seed.school("TDM-TH-01", region: "Bình Dương")
        try harness.seed.students([AllocationSeed.Student(school: "TDM-TH-01", ref: "HS-1", category: "covid_orphan")])
        try harness.startWorker()
        try harness.awaitDeadlineRun()
        try harness.seed.devices(batch: "TR", targets: [nil])
        var run = F.allocationRun(id: "traced-run")
        run.headers = [("traceparent", .string(Self.traceparent))]
        let outcome = try harness.send(run)
        #expect(outcome.trace?.traceID == "0af7651916cd43dd8448eb211c80319c")
        let completed = try harness.awaitEvents("allocation.completed", correlationID: "run-traced-run")
        #expect(completed.first?.trace?.traceID == "0af7651916cd43dd8448eb211c80319c")
        let school = try harness.awaitEvents("allocation.school", correlationID: "run-traced-run")
        #expect(school.first?.trace?.traceID == "0af7651916cd43dd8448eb211c80319c")
        #expect(Set([outcome.trace?.parentID, completed.first?.trace?.parentID, school.first?.trace?.parentID]).count == 3)
        try harness.checkWorkers()
    }
}
