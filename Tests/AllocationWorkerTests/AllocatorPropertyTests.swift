import Foundation
import PropertyBased
import Shared
import Testing

@testable import AllocationWorker

/// A random campaign as the store hands it to the allocator: waiting students of a few schools in a few
/// regions (categories and report times drawn from small sets, so ties and lottery draws are frequent) and
/// donated devices, some in the pool and some targeted (sometimes at a school with nobody waiting).
struct RandomCampaign: Sendable, CustomStringConvertible {
    var priority: [StudentCategory]
    var candidates: [Candidate]
    var devices: [AvailableDevice]

    var ranking: Ranking { Ranking(priority: priority) }

    static let schools = 6
    /// Devices may target these extra schools, which never have a waiting student.
    static let schoolsWithoutStudents = 2

    static func school(_ index: Int) -> String { "SCH-\(index)" }
    static func region(ofSchool index: Int) -> String { ["Bình Dương", "Hà Nội", "Đà Nẵng"][index % 3] }

    /// Students as (category, minutes after the first report, school), devices as an optional target school.
    static func generator(students: ClosedRange<Int> = 0...60, devices: ClosedRange<Int> = 0...45)
        -> Generator<RandomCampaign, some SendableSequenceType> {
        let student = zip(Gen.int(in: 0...3), Gen.int(in: 0...4), Gen.int(in: 0...(schools - 1)))
        let device = Gen.int(in: 0...(schools + schoolsWithoutStudents - 1)).optional(valueRate: 0.4)
        let priority = Gen<[StudentCategory]>.shuffled(StudentCategory.allCases)
        return zip(student.array(of: students), device.array(of: devices), priority, Gen.int(in: 0...4))
            .map { value in
                let (students, devices, order, left) = value
                let candidates = students.enumerated().map { index, student in
                    Sample.candidate("HS-\(index)", StudentCategory.allCases[student.0], minutes: student.1 * 30,
                                     school: school(student.2), region: region(ofSchool: student.2))
                }
                let available = devices.enumerated().map { index, target in
                    AvailableDevice(serial: String(format: "LT-%03d", index), targetSchoolCode: target.map(school))
                }
                return RandomCampaign(priority: Array(order.prefix(4 - left)), candidates: candidates, devices: available)
            }
    }

    var description: String {
        let students = candidates.map { candidate in
            let minutes = Int(candidate.reportedAt.timeIntervalSince(Sample.reported)) / 60
            return "\(candidate.studentRef)@\(candidate.schoolCode)/\(candidate.category.rawValue)/+\(minutes)m"
        }
        let devices = devices.map { "\($0.serial)→\($0.targetSchoolCode ?? "pool")" }
        return "priority \(priority.map(\.rawValue)); students \(students); devices \(devices)"
    }
}

@Suite("Allocator properties")
struct AllocatorPropertyTests {
    // MARK: (a) (b) one device per student, one student per device

    @Test("no device is given twice and no student gets two devices")
    func oneToOne() async {
        await propertyCheck(count: 300, input: RandomCampaign.generator()) { campaign in
            let assignments = Allocator.assign(candidates: campaign.candidates, devices: campaign.devices,
                                               ranking: campaign.ranking)
            let serials = assignments.map(\.serial)
            #expect(Set(serials).count == serials.count, "a device given twice")
            let students = assignments.map { StudentKey($0) }
            #expect(Set(students).count == students.count, "a student given two devices")
            #expect(Set(serials).isSubset(of: Set(campaign.devices.map(\.serial))), "an unknown device")
            #expect(Set(students).isSubset(of: Set(campaign.candidates.map { StudentKey($0) })), "an unknown student")
        }
    }

    // MARK: (c) no priority inversion

    @Test("no waiting student outranks one who got a device (for targeted devices: in that school)")
    func noPriorityInversion() async {
        await propertyCheck(count: 300, input: RandomCampaign.generator()) { campaign in
            let ranking = campaign.ranking
            let assignments = Allocator.assign(candidates: campaign.candidates, devices: campaign.devices, ranking: ranking)
            let byKey = Dictionary(uniqueKeysWithValues: campaign.candidates.map { (StudentKey($0), $0) })
            let targets = Dictionary(uniqueKeysWithValues: campaign.devices.map { ($0.serial, $0.targetSchoolCode) })
            let assigned = Set(assignments.map { StudentKey($0) })
            let waiting = campaign.candidates.filter { !assigned.contains(StudentKey($0)) }
            for assignment in assignments {
                let student = byKey[StudentKey(assignment)]!
                switch targets[assignment.serial]! {
                case .some(let school):
                    #expect(assignment.rule == .targetedSchool)
                    #expect(assignment.schoolCode == school, "targeted device \(assignment.serial) left its school")
                    let better = waiting.filter { $0.schoolCode == school && ranking.precedes($0, student) }
                    #expect(better.isEmpty,
                            "\(better.map(\.studentRef)) wait in \(school) while \(student.studentRef) got \(assignment.serial)")
                case .none:
                    #expect(assignment.rule == .poolPriority)
                    let better = waiting.filter { ranking.precedes($0, student) }
                    #expect(better.isEmpty,
                            "\(better.map(\.studentRef)) wait while \(student.studentRef) got pool device \(assignment.serial)")
                }
            }
        }
    }

    @Test("ranks are positions in the ranking the rule used, and categories are the students'")
    func ranksAreRecorded() async {
        await propertyCheck(count: 200, input: RandomCampaign.generator()) { campaign in
            let ranking = campaign.ranking
            let assignments = Allocator.assign(candidates: campaign.candidates, devices: campaign.devices, ranking: ranking)
            let ranked = ranking.sorted(campaign.candidates)
            for assignment in assignments {
                let queue = assignment.rule == .poolPriority ? ranked : ranked.filter { $0.schoolCode == assignment.schoolCode }
                let position = queue.firstIndex { StudentKey($0) == StudentKey(assignment) }.map { $0 + 1 }
                #expect(position == assignment.rank, "\(assignment)")
                #expect(queue.first { StudentKey($0) == StudentKey(assignment) }?.category == assignment.category)
            }
        }
    }

    // MARK: (d) as many allocations as the rules allow

    @Test("the number of allocations is what the devices and the waiting students allow")
    func countIsTheMostTheRulesAllow() async {
        await propertyCheck(count: 300, input: RandomCampaign.generator()) { campaign in
            let assignments = Allocator.assign(candidates: campaign.candidates, devices: campaign.devices,
                                               ranking: campaign.ranking)
            var students: [String: Int] = [:]
            for candidate in campaign.candidates { students[candidate.schoolCode, default: 0] += 1 }
            var targeted: [String: Int] = [:]
            var pool = 0
            for device in campaign.devices {
                if let school = device.targetSchoolCode { targeted[school, default: 0] += 1 } else { pool += 1 }
            }
            // Each school's targeted devices serve at most its waiting students; the pool serves whoever is left.
            let targetedUsable = targeted.reduce(0) { $0 + min($1.value, students[$1.key] ?? 0) }
            let poolUsable = min(pool, campaign.candidates.count - targetedUsable)
            #expect(assignments.filter { $0.rule == .targetedSchool }.count == targetedUsable)
            #expect(assignments.filter { $0.rule == .poolPriority }.count == poolUsable)
            #expect(assignments.count == min(targetedUsable + pool, campaign.candidates.count))
        }
    }

    // MARK: (e) stability

    @Test("a second run with no new input changes nothing; new devices go only to students still waiting")
    func stableAcrossRuns() async {
        let extra = Gen.int(in: 0...(RandomCampaign.schools + RandomCampaign.schoolsWithoutStudents - 1))
            .optional(valueRate: 0.4).array(of: 0...20)
        await propertyCheck(count: 300, input: RandomCampaign.generator(), extra) { campaign, extraTargets in
            let ranking = campaign.ranking
            let first = Allocator.assign(candidates: campaign.candidates, devices: campaign.devices, ranking: ranking)
            let allocatedStudents = Set(first.map { StudentKey($0) })
            let usedSerials = Set(first.map(\.serial))
            // What the store would hand the next run: students and devices not yet allocated.
            let waiting = campaign.candidates.filter { !allocatedStudents.contains(StudentKey($0)) }
            let leftover = campaign.devices.filter { !usedSerials.contains($0.serial) }

            let again = Allocator.assign(candidates: waiting, devices: leftover, ranking: ranking)
            #expect(again.isEmpty, "a run with no new input allocated \(again)")

            let newDevices = extraTargets.enumerated().map { index, target in
                AvailableDevice(serial: "NEW-\(index)", targetSchoolCode: target.map(RandomCampaign.school))
            }
            let later = Allocator.assign(candidates: waiting, devices: leftover + newDevices, ranking: ranking)
            #expect(Set(later.map { StudentKey($0) }).isDisjoint(with: allocatedStudents))
            #expect(Set(later.map(\.serial)).isDisjoint(with: usedSerials))
            // Old leftovers still have nobody to serve: only the new devices are given.
            #expect(later.allSatisfy { $0.serial.hasPrefix("NEW-") }, "\(later)")
            // The later run keeps the invariants among the students still waiting.
            let stillWaiting = waiting.filter { student in !later.contains { StudentKey($0) == StudentKey(student) } }
            let byKey = Dictionary(uniqueKeysWithValues: waiting.map { (StudentKey($0), $0) })
            for assignment in later where assignment.rule == .poolPriority {
                let student = byKey[StudentKey(assignment)]!
                #expect(!stillWaiting.contains { ranking.precedes($0, student) })
            }
        }
    }

    // MARK: (f) determinism

    @Test("the same data gives the same result whatever the order it arrives in")
    func deterministic() async {
        await propertyCheck(count: 300, input: RandomCampaign.generator(), Gen.int(in: 0...Int.max)) { campaign, seed in
            let ranking = campaign.ranking
            var rng = SplitMix64(seed: UInt64(seed))
            // The store lists devices in a fixed order (received_at, serial); only the candidates' order varies.
            let reference = Allocator.assign(candidates: campaign.candidates, devices: campaign.devices, ranking: ranking)
            let shuffledCandidates = campaign.candidates.shuffled(using: &rng)
            #expect(Allocator.assign(candidates: shuffledCandidates, devices: campaign.devices, ranking: ranking) == reference)
            #expect(Allocator.assign(candidates: campaign.candidates.reversed(), devices: campaign.devices,
                                     ranking: ranking) == reference)
            // Devices in another order: the same students get devices, with the same ranks and rules (only which
            // serial of the same kind a student gets may follow the device order).
            let shuffledDevices = campaign.devices.shuffled(using: &rng)
            let other = Allocator.assign(candidates: shuffledCandidates, devices: shuffledDevices, ranking: ranking)
            #expect(other.map(StudentOutcome.init).sorted() == reference.map(StudentOutcome.init).sorted())
            let targetOf = Dictionary(uniqueKeysWithValues: campaign.devices.map { ($0.serial, $0.targetSchoolCode) })
            #expect(other.map { DeviceKindOutcome($0, target: targetOf[$0.serial]!) }.sorted()
                    == reference.map { DeviceKindOutcome($0, target: targetOf[$0.serial]!) }.sorted())
        }
    }
}

// MARK: - Helpers

/// A student's identity in a campaign.
struct StudentKey: Hashable, Sendable {
    var school: String
    var ref: String
    init(_ candidate: Candidate) { (school, ref) = (candidate.schoolCode, candidate.studentRef) }
    init(_ assignment: Assignment) { (school, ref) = (assignment.schoolCode, assignment.studentRef) }
}

/// What an allocation says about a student, without the serial.
private struct StudentOutcome: Comparable {
    var school: String
    var ref: String
    var rank: Int
    var rule: String
    var category: String
    init(_ a: Assignment) {
        (school, ref, rank, rule, category) = (a.schoolCode, a.studentRef, a.rank, a.rule.rawValue, a.category.rawValue)
    }
    static func < (l: StudentOutcome, r: StudentOutcome) -> Bool {
        (l.school, l.ref, l.rank, l.rule, l.category) < (r.school, r.ref, r.rank, r.rule, r.category)
    }
}

/// A student and the kind of device (pool, or targeted at which school) they got.
private struct DeviceKindOutcome: Comparable {
    var school: String
    var ref: String
    var target: String
    init(_ a: Assignment, target: String?) { (school, ref, self.target) = (a.schoolCode, a.studentRef, target ?? "") }
    static func < (l: DeviceKindOutcome, r: DeviceKindOutcome) -> Bool {
        (l.school, l.ref, l.target) < (r.school, r.ref, r.target)
    }
}
