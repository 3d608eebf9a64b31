import Foundation
import PropertyBased
import Shared
import Testing

@testable import AllocationWorker

@Suite("Procurement plan")
struct ProcurementPlanTests {
    typealias Input = ProcurementPlan.SchoolInput

    // MARK: Computers needed

    struct NeededCase: Sendable, CustomTestStringConvertible {
        var students: Int
        var working: Int
        var target: Double
        var needed: Int
        var testDescription: String { "\(students) students, \(working) working, target \(target) → \(needed)" }
    }

    static let neededCases: [NeededCase] = [
        NeededCase(students: 320, working: 12, target: 10, needed: 20),    // ceil(32) − 12
        NeededCase(students: 321, working: 12, target: 10, needed: 21),    // ceil(32.1) − 12
        NeededCase(students: 300, working: 30, target: 10, needed: 0),     // exactly on target
        NeededCase(students: 300, working: 45, target: 10, needed: 0),     // better than the target: never negative
        NeededCase(students: 0, working: 0, target: 10, needed: 0),
        NeededCase(students: 0, working: 5, target: 10, needed: 0),
        NeededCase(students: 1, working: 0, target: 10, needed: 1),
        NeededCase(students: 180, working: 0, target: 15, needed: 12),
        NeededCase(students: 7, working: 0, target: 2.5, needed: 3),       // ceil(2.8)
        NeededCase(students: 3, working: 0, target: 0.1, needed: 30),      // 3 / 0.1 is 30.000000000000004 in Double
        NeededCase(students: 7, working: 1, target: 0.7, needed: 9),       // 7 / 0.7 is 10.000000000000002
        NeededCase(students: 10, working: 0, target: 1, needed: 10),
        NeededCase(students: 10, working: 3, target: 1, needed: 7),
    ]

    @Test("needed = ceil(students / target) − working, never negative", arguments: neededCases)
    func neededComputers(_ testCase: NeededCase) {
        #expect(ProcurementPlan.needed(students: testCase.students, working: testCase.working, target: testCase.target)
                == testCase.needed)
    }

    @Test("needed is exact for targets given in tenths, and never negative")
    func neededProperty() async {
        await propertyCheck(count: 500, input: Gen.int(in: 0...100_000), Gen.int(in: 0...5_000), Gen.int(in: 1...1_000)) {
            students, working, tenths in
            let target = Double(tenths) / 10
            let needed = ProcurementPlan.needed(students: students, working: working, target: target)
            // The fewest computers c with students / c ≤ target, in integers: students·10 ≤ c·tenths.
            let computers = (students * 10 + tenths - 1) / tenths
            #expect(needed == max(0, computers - working))
            #expect(needed >= 0)
        }
    }

    // MARK: The plan

    static let schools: [Input] = [
        Input(schoolCode: "0551010", region: "Ανατολική Μακεδονία και Θράκη", students: 320, status: .onTime, workingComputers: 12),
        Input(schoolCode: "9051020", region: "Ήπειρος", students: 180, status: .onTime, workingComputers: 0),
        Input(schoolCode: "9051030", region: "Ήπειρος", students: 90, status: .onTime, workingComputers: 30),
        Input(schoolCode: "0551020", region: "Ανατολική Μακεδονία και Θράκη", students: 410, status: .late, workingComputers: 40),
        Input(schoolCode: "0740010", region: "Κρήτη", students: 250, status: .missing, workingComputers: 0),
        Input(schoolCode: "0740020", region: "Κρήτη", students: nil, status: .onTime, workingComputers: 8),
        Input(schoolCode: "0740030", region: "Κρήτη", students: nil, status: .late, workingComputers: 3),
    ]

    @Test("on-time schools with a student count are planned; late, missing and uncounted ones are listed apart")
    func plan() {
        let plan = ProcurementPlan.compute(campaign: "gr-ict-2022", target: 10, schools: Self.schools.shuffled())
        #expect(plan.campaign == "gr-ict-2022")
        #expect(plan.target == 10)
        // Sorted by region (Swift's string order: "Ή" U+0389 before "Α" U+0391), then school.
        #expect(plan.schools.map(\.schoolCode) == ["9051020", "9051030", "0551010"])
        #expect(plan.schools.map(\.needed) == [18, 0, 20])
        #expect(plan.schools.map(\.students) == [180, 90, 320])
        #expect(plan.schools.map(\.workingComputers) == [0, 30, 12])
        #expect(plan.schools.map(\.region) == ["Ήπειρος", "Ήπειρος", "Ανατολική Μακεδονία και Θράκη"])
        #expect(plan.notPlanned.map(\.schoolCode) == ["0551020", "0740010", "0740020", "0740030"])
        #expect(plan.notPlanned.map(\.reason) == ["late", "missing", "no_student_count", "late"])
        // Never silently planned: every school is in exactly one list.
        let listed = plan.schools.map(\.schoolCode) + plan.notPlanned.map(\.schoolCode)
        #expect(listed.sorted() == Self.schools.map(\.schoolCode).sorted())
    }

    @Test("the ratio is students per working computer, and absent without any")
    func ratio() throws {
        let plan = ProcurementPlan.compute(campaign: "gr-ict-2022", target: 10, schools: Self.schools)
        let ratios = Dictionary(uniqueKeysWithValues: plan.schools.map { ($0.schoolCode, $0.ratio) })
        #expect(try #require(ratios["0551010"]) == 320.0 / 12.0)
        #expect(try #require(ratios["9051020"]) == nil)
        #expect(try #require(ratios["9051030"]) == 3.0)
    }

    @Test("procurement.planned carries the contract's fields")
    func eventBody() throws {
        let plan = ProcurementPlan.compute(campaign: "gr-ict-2022", target: 12.5, schools: Self.schools)
        let body = try JSONParser.parse(plan.body.serialized())
        #expect(body["campaign"]?.stringValue == "gr-ict-2022")
        #expect(body["target_students_per_computer"] == .number(12.5))
        let schools = try #require(body["schools"]?.arrayValue)
        #expect(schools.map { $0["school_code"]?.stringValue } == ["9051020", "9051030", "0551010"])
        let lyceum = try #require(schools.first { $0["school_code"]?.stringValue == "0551010" })
        #expect(lyceum["region"]?.stringValue == "Ανατολική Μακεδονία και Θράκη")
        #expect(lyceum["students"]?.intValue == 320)
        #expect(lyceum["working_computers"]?.intValue == 12)
        #expect(lyceum["needed"]?.intValue == 14)   // ceil(25.6) − 12
        #expect(lyceum["ratio"] == .number(26.67))
        let noComputers = try #require(schools.first { $0["school_code"]?.stringValue == "9051020" })
        #expect(noComputers["ratio"] == .null)
        #expect(noComputers["needed"]?.intValue == 15)   // ceil(14.4)
        let notPlanned = try #require(body["not_planned"]?.arrayValue)
        #expect(notPlanned.map { $0["reason"]?.stringValue } == ["late", "missing", "no_student_count", "late"])

        let summary = plan.summary
        #expect(summary["schools_planned"]?.intValue == 3)
        #expect(summary["computers_needed"]?.intValue == 14 + 15 + 0)
        #expect(summary["late"]?.intValue == 2)
        #expect(summary["missing"]?.intValue == 1)
        #expect(summary["no_student_count"]?.intValue == 1)
    }

    @Test("an empty campaign plans nothing")
    func empty() {
        let plan = ProcurementPlan.compute(campaign: "gr-ict-2022", target: 10, schools: [])
        #expect(plan.schools.isEmpty)
        #expect(plan.notPlanned.isEmpty)
        #expect(plan.summary["computers_needed"]?.intValue == 0)
    }
}
