import Foundation
import Shared

/// A donated device waiting for a student.
struct AvailableDevice: Sendable, Equatable, Hashable {
    var serial: String
    /// `nil`: the campaign's pool.
    var targetSchoolCode: String?
}

/// One device given to one student, with why.
struct Assignment: Sendable, Equatable {
    enum Rule: String, Sendable {
        /// A device a donor gave to this school went to the school's best-ranked waiting student.
        case targetedSchool = "targeted_school"
        /// A pool device went to the best-ranked waiting student in the run's scope.
        case poolPriority = "pool_priority"
    }

    var serial: String
    var schoolCode: String
    var studentRef: String
    var category: StudentCategory
    /// 1-based position of the student among the waiting students the rule ranked (the school's for
    /// targeted devices, the run's scope for pool devices).
    var rank: Int
    var rule: Rule
}

/// The assignment of devices to students, as a pure function.
///
/// Targeted devices first, each to the best-ranked waiting student of its school; then pool devices, in
/// order, each to the best-ranked student still waiting in scope. One device per student. Devices left over
/// (no waiting student) stay available for a later run. Devices are taken in the order given (the store
/// passes them by arrival, then serial), so the same input always gives the same serial to the same student.
enum Allocator {
    static func assign(candidates: [Candidate], devices: [AvailableDevice], ranking: Ranking) -> [Assignment] {
        let ranked = ranking.sorted(candidates)
        var taken = Set<Int>()
        var assignments: [Assignment] = []

        // Targeted devices, school by school (only schools with such devices need their queue).
        let targetedSchools = Set(devices.compactMap(\.targetSchoolCode))
        var bySchool: [String: [Int]] = [:]
        if !targetedSchools.isEmpty {
            for (index, candidate) in ranked.enumerated() where targetedSchools.contains(candidate.schoolCode) {
                bySchool[candidate.schoolCode, default: []].append(index)
            }
        }
        var nextInSchool: [String: Int] = [:]
        for device in devices {
            guard let school = device.targetSchoolCode else { continue }
            let queue = bySchool[school] ?? []
            let position = nextInSchool[school] ?? 0
            guard position < queue.count else { continue }
            nextInSchool[school] = position + 1
            let index = queue[position]
            taken.insert(index)
            let candidate = ranked[index]
            assignments.append(Assignment(serial: device.serial, schoolCode: candidate.schoolCode,
                                          studentRef: candidate.studentRef, category: candidate.category,
                                          rank: position + 1, rule: .targetedSchool))
        }

        // Pool devices, down the ranking.
        var cursor = 0
        for device in devices where device.targetSchoolCode == nil {
            while cursor < ranked.count, taken.contains(cursor) { cursor += 1 }
            guard cursor < ranked.count else { break }
            let candidate = ranked[cursor]
            taken.insert(cursor)
            assignments.append(Assignment(serial: device.serial, schoolCode: candidate.schoolCode,
                                          studentRef: candidate.studentRef, category: candidate.category,
                                          rank: cursor + 1, rule: .poolPriority))
        }
        return assignments
    }
}
