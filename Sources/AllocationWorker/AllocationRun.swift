import Foundation
import Logging
import Shared

/// One allocation run for a campaign (optionally a region or a school), inside the caller's transaction.
struct AllocationRun {
    struct Figures: Sendable, Equatable {
        var eligible = 0
        var lateOnly = 0
        var devicesAvailable = 0
        var poolDevices = 0
        var targetedDevices = 0
        var allocated = 0
        var waiting = 0
    }

    struct Result: Sendable {
        var runID: String
        var campaign: String
        var assignments: [Assignment]
        var figures: Figures
        var phases = PhaseTimer()
    }

    let campaign: CampaignRecord
    let scope: AllocationStore.Scope
    let runID: String
    /// The school clock's time (SCHOOLICT_NOW-aware): allocations are stamped with it, since handover
    /// deadlines run from it.
    let now: Date

    /// Allocates what can be allocated. Takes the campaign's advisory lock first, so concurrent runs for the
    /// same campaign see each other's committed allocations and never give a device or a student twice.
    func perform(trigger: String, triggerMessageID: String?, database: PostgresConnection) throws -> Result {
        var phases = PhaseTimer()
        try AllocationStore.lockCampaign(campaign.campaign, database: database)
        phases.mark("lock")
        try AllocationStore.insertRun(id: runID, campaign: campaign.campaign, scope: scope, trigger: trigger,
                                      triggerMessageID: triggerMessageID, database: database)
        let ranking = Ranking(priority: campaign.priority)
        let devices = try AllocationStore.availableDevices(campaign: campaign.campaign, scope: scope, database: database)
        phases.mark("devices")
        var figures = Figures()
        let before = try AllocationStore.counts(campaign: campaign.campaign, scope: scope, database: database)
        phases.mark("counts")
        figures.eligible = before.waiting
        figures.lateOnly = before.lateOnly
        figures.devicesAvailable = devices.count

        var targetedBySchool: [String: Int] = [:]
        for device in devices {
            if let school = device.targetSchoolCode { targetedBySchool[school, default: 0] += 1 }
        }
        figures.targetedDevices = targetedBySchool.values.reduce(0, +)
        figures.poolDevices = devices.count - figures.targetedDevices

        // Only the students who can be reached: the best (pool + targeted) waiting students overall hold
        // the best `pool` left after the targeted step; a school whose best k for its k targeted devices are
        // not all among them (rare: its students rank low) gets a query of its own.
        var assignments: [Assignment] = []
        if !devices.isEmpty, figures.eligible > 0 {
            let limit = figures.poolDevices + figures.targetedDevices
            let top = try AllocationStore.topCandidates(campaign: campaign.campaign, scope: scope, ranking: ranking,
                                                        limit: limit, database: database)
            phases.mark("top_candidates")
            var inTop: [String: Int] = [:]
            for candidate in top { inTop[candidate.schoolCode, default: 0] += 1 }
            let short = top.count < limit ? [:] : targetedBySchool.filter { school, wanted in (inTop[school] ?? 0) < wanted }
            let extra = try AllocationStore.targetedCandidates(campaign: campaign.campaign, scope: scope, ranking: ranking,
                                                               schools: short, database: database)
            phases.mark("targeted_candidates")
            var candidates = top
            if !extra.isEmpty {
                let known = Set(top.map { SchoolStudent(schoolCode: $0.schoolCode, studentRef: $0.studentRef) })
                candidates += extra.filter { !known.contains(SchoolStudent(schoolCode: $0.schoolCode, studentRef: $0.studentRef)) }
            }
            assignments = Allocator.assign(candidates: candidates, devices: devices, ranking: ranking)
            phases.mark("assign")
            try AllocationStore.insert(assignments, campaign: campaign.campaign, runID: runID, at: now, database: database)
            phases.mark("insert")
        }
        figures.allocated = assignments.count
        figures.waiting = figures.eligible - assignments.count
        try AllocationStore.finishRun(id: runID, figures: figures, database: database)
        return Result(runID: runID, campaign: campaign.campaign, assignments: assignments, figures: figures, phases: phases)
    }
}

extension AllocationRun.Result {
    /// `allocation.school` (one per school that received devices) and `allocation.completed`.
    func events() -> [AMQPMessage] {
        var bySchool: [String: [Assignment]] = [:]
        for assignment in assignments { bySchool[assignment.schoolCode, default: []].append(assignment) }
        var messages: [AMQPMessage] = bySchool.keys.sorted().map { school in
            let body: JSONValue = [
                "campaign": .string(campaign), "run_id": .string(runID), "school_code": .string(school),
                "allocations": .array(bySchool[school]!.map { a in
                    ["student_ref": .string(a.studentRef), "device_serial": .string(a.serial),
                     "category": .string(a.category.rawValue), "rank": .int(a.rank), "rule": .string(a.rule.rawValue)]
                }),
            ]
            return AMQPMessage(exchange: Topology.Exchange.events, routingKey: "allocation.school",
                               messageID: MessageID.fitting("allocation-\(runID)-\(school)"), correlationID: runID, body: body.serialized())
        }
        let completed: JSONValue = [
            "campaign": .string(campaign), "run_id": .string(runID), "allocated": .int(figures.allocated),
            "schools": .array(bySchool.keys.sorted().map { ["school_code": .string($0), "devices": .int(bySchool[$0]!.count)] }),
            "waiting": .int(figures.waiting),
            "eligible": .int(figures.eligible), "late_excluded": .int(figures.lateOnly),
            "devices_available": .int(figures.devicesAvailable),
            "devices_left": .int(figures.devicesAvailable - figures.allocated),
        ]
        messages.append(AMQPMessage(exchange: Topology.Exchange.events, routingKey: "allocation.completed",
                                    messageID: MessageID.fitting("allocation-completed-\(runID)"), correlationID: runID,
                                    body: completed.serialized()))
        return messages
    }

    var summary: JSONValue {
        ["run_id": .string(runID), "allocated": .int(figures.allocated), "waiting": .int(figures.waiting),
         "eligible": .int(figures.eligible), "late_excluded": .int(figures.lateOnly),
         "devices_available": .int(figures.devicesAvailable)]
    }
}

private struct SchoolStudent: Hashable {
    var schoolCode: String
    var studentRef: String
}
