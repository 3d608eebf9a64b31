import Foundation
import Shared
import Testing

@testable import AllocationWorker

@Suite("Allocator")
struct AllocatorTests {
    typealias S = Sample

    /// One expected allocation: device, student, rank and rule (the category is checked against the candidate).
    struct Expected: Sendable, Equatable, CustomStringConvertible {
        var serial: String
        var ref: String
        var rank: Int
        var rule: Assignment.Rule
        var description: String { "\(serial)→\(ref)#\(rank)(\(rule.rawValue))" }
    }

    struct AllocationCase: Sendable, CustomTestStringConvertible {
        var name: String
        var priority: [StudentCategory] = [.covidOrphan, .poorHousehold, .nearPoorHousehold, .otherHardship]
        var candidates: [Candidate]
        var devices: [AvailableDevice]
        var expected: [Expected]
        var testDescription: String { name }
    }

    static let cases: [AllocationCase] = [
        AllocationCase(
            name: "pool devices go down the ranking, in the campaign's priority order",
            candidates: [S.candidate("D", .otherHardship), S.candidate("B", .poorHousehold),
                         S.candidate("A", .covidOrphan), S.candidate("C", .nearPoorHousehold)],
            devices: [S.pool("P1"), S.pool("P2"), S.pool("P3")],
            expected: [Expected(serial: "P1", ref: "A", rank: 1, rule: .poolPriority),
                       Expected(serial: "P2", ref: "B", rank: 2, rule: .poolPriority),
                       Expected(serial: "P3", ref: "C", rank: 3, rule: .poolPriority)]),
        AllocationCase(
            name: "a custom priority order changes who comes first",
            priority: [.otherHardship, .nearPoorHousehold],
            candidates: [S.candidate("D", .otherHardship), S.candidate("B", .poorHousehold),
                         S.candidate("A", .covidOrphan), S.candidate("C", .nearPoorHousehold)],
            devices: [S.pool("P1"), S.pool("P2"), S.pool("P3")],
            expected: [Expected(serial: "P1", ref: "D", rank: 1, rule: .poolPriority),
                       Expected(serial: "P2", ref: "C", rank: 2, rule: .poolPriority),
                       // Unlisted categories follow in the contract's order: covid_orphan before poor_household.
                       Expected(serial: "P3", ref: "A", rank: 3, rule: .poolPriority)]),
        AllocationCase(
            name: "within a category the earlier report wins, then the lottery",
            candidates: [S.candidate("late", .poorHousehold, minutes: 60, lottery: "00"),
                         S.candidate("tie-hi", .poorHousehold, minutes: 10, lottery: "ee"),
                         S.candidate("tie-lo", .poorHousehold, minutes: 10, lottery: "11"),
                         S.candidate("first", .poorHousehold, minutes: 0, lottery: "ff")],
            devices: [S.pool("P1"), S.pool("P2"), S.pool("P3")],
            expected: [Expected(serial: "P1", ref: "first", rank: 1, rule: .poolPriority),
                       Expected(serial: "P2", ref: "tie-lo", rank: 2, rule: .poolPriority),
                       Expected(serial: "P3", ref: "tie-hi", rank: 3, rule: .poolPriority)]),
        AllocationCase(
            name: "a targeted device goes to its school's best student even when another school's outranks them",
            candidates: [S.candidate("y1", .covidOrphan, school: "Y"), S.candidate("x1", .otherHardship, school: "X"),
                         S.candidate("x2", .otherHardship, minutes: 5, school: "X")],
            devices: [S.targeted("T1", to: "X")],
            expected: [Expected(serial: "T1", ref: "x1", rank: 1, rule: .targetedSchool)]),
        AllocationCase(
            name: "targeted devices rank within their school",
            candidates: [S.candidate("y1", .covidOrphan, school: "Y"), S.candidate("x3", .nearPoorHousehold, school: "X"),
                         S.candidate("x1", .covidOrphan, minutes: 1, school: "X"),
                         S.candidate("x2", .poorHousehold, school: "X")],
            devices: [S.targeted("T1", to: "X"), S.targeted("T2", to: "X")],
            expected: [Expected(serial: "T1", ref: "x1", rank: 1, rule: .targetedSchool),
                       Expected(serial: "T2", ref: "x2", rank: 2, rule: .targetedSchool)]),
        AllocationCase(
            name: "a device targeted at a school with nobody waiting stays unused",
            candidates: [S.candidate("x1", .covidOrphan, school: "X"), S.candidate("y1", .poorHousehold, school: "Y")],
            devices: [S.targeted("T-Z", to: "Z")],
            expected: []),
        AllocationCase(
            name: "a school's targeted devices beyond its waiting students stay unused, and never go to others",
            candidates: [S.candidate("x1", .otherHardship, school: "X"), S.candidate("y1", .covidOrphan, school: "Y")],
            devices: [S.targeted("T1", to: "X"), S.targeted("T2", to: "X"), S.targeted("T3", to: "X")],
            expected: [Expected(serial: "T1", ref: "x1", rank: 1, rule: .targetedSchool)]),
        AllocationCase(
            name: "targeted devices first, then the pool to the best still waiting (rank in the whole scope)",
            candidates: [S.candidate("x1", .covidOrphan, school: "X"), S.candidate("x2", .poorHousehold, school: "X"),
                         S.candidate("y1", .covidOrphan, minutes: 5, school: "Y"),
                         S.candidate("y2", .otherHardship, school: "Y")],
            // The pool device comes first in the input; targeted devices are still served first.
            devices: [S.pool("P1"), S.targeted("T1", to: "X"), S.pool("P2")],
            expected: [Expected(serial: "T1", ref: "x1", rank: 1, rule: .targetedSchool),
                       Expected(serial: "P1", ref: "y1", rank: 2, rule: .poolPriority),
                       Expected(serial: "P2", ref: "x2", rank: 3, rule: .poolPriority)]),
        AllocationCase(
            name: "more devices than students: every student gets one, the rest stay available",
            candidates: [S.candidate("b", .poorHousehold), S.candidate("a", .covidOrphan)],
            devices: [S.pool("P1"), S.pool("P2"), S.pool("P3"), S.targeted("T1", to: "TDM-TH-01")],
            expected: [Expected(serial: "T1", ref: "a", rank: 1, rule: .targetedSchool),
                       Expected(serial: "P1", ref: "b", rank: 2, rule: .poolPriority)]),
        AllocationCase(
            name: "no devices: nothing",
            candidates: [S.candidate("a", .covidOrphan)], devices: [], expected: []),
        AllocationCase(
            name: "no students: nothing",
            candidates: [], devices: [S.pool("P1"), S.targeted("T1", to: "X")], expected: []),
    ]

    @Test("assignment table", arguments: cases)
    func assignsByTheRules(_ testCase: AllocationCase) {
        let ranking = Ranking(priority: testCase.priority)
        let assignments = Allocator.assign(candidates: testCase.candidates, devices: testCase.devices, ranking: ranking)
        let actual = assignments.map { Expected(serial: $0.serial, ref: $0.studentRef, rank: $0.rank, rule: $0.rule) }
        #expect(actual == testCase.expected)
        // Each allocation records the student's school and category as they were ranked.
        let byRef = Dictionary(uniqueKeysWithValues: testCase.candidates.map { ($0.studentRef, $0) })
        for assignment in assignments {
            #expect(assignment.schoolCode == byRef[assignment.studentRef]?.schoolCode)
            #expect(assignment.category == byRef[assignment.studentRef]?.category)
        }
        // The candidates' order does not matter.
        for order in [testCase.candidates.reversed(), testCase.candidates.shuffled()] {
            #expect(Allocator.assign(candidates: Array(order), devices: testCase.devices, ranking: ranking) == assignments)
        }
    }

    @Test("the rules are recorded with their contract names")
    func ruleNames() {
        #expect(Assignment.Rule.targetedSchool.rawValue == "targeted_school")
        #expect(Assignment.Rule.poolPriority.rawValue == "pool_priority")
    }

    // MARK: Scope and later runs (the store's filters, applied as the store applies them)

    @Test("a region run ranks and serves only the region's students")
    func regionScope() {
        let candidates = [
            S.candidate("north-orphan", .covidOrphan, school: "N-01", region: "North"),
            S.candidate("south-poor", .poorHousehold, school: "S-01", region: "South"),
            S.candidate("south-other", .otherHardship, school: "S-02", region: "South"),
            S.candidate("north-near", .nearPoorHousehold, school: "N-02", region: "North"),
        ]
        let south = candidates.filter { $0.region == "South" }
        let assignments = Allocator.assign(candidates: south, devices: [S.pool("P1"), S.pool("P2"), S.pool("P3")],
                                           ranking: S.contractRanking)
        #expect(assignments.map(\.studentRef) == ["south-poor", "south-other"])
        #expect(assignments.map(\.rank) == [1, 2], "ranks are positions within the run's scope")
        #expect(assignments.allSatisfy { $0.schoolCode.hasPrefix("S-") })

        // The whole campaign: the northern orphan comes first.
        let all = Allocator.assign(candidates: candidates, devices: [S.pool("P1")], ranking: S.contractRanking)
        #expect(all.map(\.studentRef) == ["north-orphan"])
    }

    @Test("students who already have a device are not candidates: a later run serves the next in line")
    func laterRunsServeTheNextInLine() {
        let candidates = (1...6).map { S.candidate("HS-\($0)", .poorHousehold, minutes: $0) }
            + [S.candidate("x1", .otherHardship, school: "X")]
        let first = Allocator.assign(candidates: candidates, devices: [S.pool("P1"), S.pool("P2")],
                                     ranking: S.contractRanking)
        #expect(first.map(\.studentRef) == ["HS-1", "HS-2"])

        // The store leaves out students who already have a device.
        let allocated = Set(first.map(\.studentRef))
        let waiting = candidates.filter { !allocated.contains($0.studentRef) }
        let second = Allocator.assign(candidates: waiting, devices: [S.pool("P3"), S.targeted("T1", to: "X")],
                                      ranking: S.contractRanking)
        #expect(second.map(\.studentRef) == ["x1", "HS-3"])
        #expect(second.map(\.rank) == [1, 1], "ranks count the students still waiting")
        #expect(Set(second.map(\.studentRef)).isDisjoint(with: allocated))

        // Nothing new: nothing happens.
        let stillWaiting = waiting.filter { student in !second.contains { $0.studentRef == student.studentRef } }
        #expect(Allocator.assign(candidates: stillWaiting, devices: [], ranking: S.contractRanking).isEmpty)
    }

    // MARK: Events

    @Test("a run publishes allocation.school per school and allocation.completed with waiting")
    func runEvents() throws {
        let assignments = [
            Assignment(serial: "LT-2", schoolCode: "TDM-TH-02", studentRef: "HS-9", category: .poorHousehold,
                       rank: 2, rule: .poolPriority),
            Assignment(serial: "LT-1", schoolCode: "TDM-TH-01", studentRef: "HS-1", category: .covidOrphan,
                       rank: 1, rule: .targetedSchool),
            Assignment(serial: "LT-3", schoolCode: "TDM-TH-01", studentRef: "HS-2", category: .covidOrphan,
                       rank: 3, rule: .poolPriority),
        ]
        var figures = AllocationRun.Figures()
        figures.eligible = 10
        figures.lateOnly = 4
        figures.devicesAvailable = 5
        figures.allocated = 3
        figures.waiting = 7
        let result = AllocationRun.Result(runID: "run-cmd-1", campaign: "vn-song-2021", assignments: assignments,
                                          figures: figures)
        let events = result.events()
        #expect(events.map(\.routingKey) == ["allocation.school", "allocation.school", "allocation.completed"])
        #expect(events.allSatisfy { $0.exchange == Topology.Exchange.events && $0.correlationID == "run-cmd-1" })
        #expect(Set(events.map(\.messageID)).count == 3, "distinct, deterministic message ids")
        #expect(events.map(\.messageID) == result.events().map(\.messageID))

        let first = try JSONParser.parse(events[0].body)
        #expect(first["campaign"]?.stringValue == "vn-song-2021")
        #expect(first["run_id"]?.stringValue == "run-cmd-1")
        #expect(first["school_code"]?.stringValue == "TDM-TH-01")
        let allocations = try #require(first["allocations"]?.arrayValue)
        #expect(allocations.map { $0["student_ref"]?.stringValue } == ["HS-1", "HS-2"])
        #expect(allocations.map { $0["device_serial"]?.stringValue } == ["LT-1", "LT-3"])
        #expect(allocations.map { $0["category"]?.stringValue } == ["covid_orphan", "covid_orphan"])
        #expect(allocations.map { $0["rank"]?.intValue } == [1, 3])
        #expect(allocations.map { $0["rule"]?.stringValue } == ["targeted_school", "pool_priority"])
        let second = try JSONParser.parse(events[1].body)
        #expect(second["school_code"]?.stringValue == "TDM-TH-02")

        let completed = try JSONParser.parse(events[2].body)
        #expect(completed["campaign"]?.stringValue == "vn-song-2021")
        #expect(completed["run_id"]?.stringValue == "run-cmd-1")
        #expect(completed["allocated"]?.intValue == 3)
        #expect(completed["waiting"]?.intValue == 7)
        let schools = try #require(completed["schools"]?.arrayValue)
        #expect(schools.map { $0["school_code"]?.stringValue } == ["TDM-TH-01", "TDM-TH-02"])
        #expect(schools.map { $0["devices"]?.intValue } == [2, 1])
    }

    @Test("a run that allocates nothing still publishes allocation.completed")
    func emptyRunEvents() throws {
        var figures = AllocationRun.Figures()
        figures.eligible = 3
        figures.waiting = 3
        let events = AllocationRun.Result(runID: "run-x", campaign: "vn-song-2021", assignments: [], figures: figures).events()
        #expect(events.map(\.routingKey) == ["allocation.completed"])
        let completed = try JSONParser.parse(events[0].body)
        #expect(completed["allocated"]?.intValue == 0)
        #expect(completed["waiting"]?.intValue == 3)
        #expect(completed["schools"]?.arrayValue?.isEmpty == true)
    }
}
