import Foundation
import Shared

/// An eligible student as the allocation sees them: no name, only what ranks them.
struct Candidate: Sendable, Equatable, Hashable {
    var schoolCode: String
    var studentRef: String
    var region: String
    var category: StudentCategory
    /// The earliest on-time report naming the student.
    var reportedAt: Date
    /// The reproducible lottery ticket: `Lottery.ticket(campaign:schoolCode:studentRef:)`.
    var lottery: String
}

/// The contract's order: the campaign's `priority` list, then earlier report, then a reproducible lottery
/// (SHA-256 of campaign and student, so nobody can game it by name or arrival order).
struct Ranking: Sendable {
    let priority: [StudentCategory]
    private let position: [StudentCategory: Int]

    init(priority: [StudentCategory]) {
        // Categories the campaign left out rank after the listed ones, in the contract's order.
        let complete = priority + StudentCategory.allCases.filter { !priority.contains($0) }
        self.priority = complete
        position = Dictionary(uniqueKeysWithValues: complete.enumerated().map { ($1, $0) })
    }

    /// Whether `a` comes before `b`. A strict total order: ties on everything else fall to the lottery,
    /// and equal lotteries (the same student) to the school and reference.
    func precedes(_ a: Candidate, _ b: Candidate) -> Bool {
        let pa = position[a.category]!, pb = position[b.category]!
        if pa != pb { return pa < pb }
        if a.reportedAt != b.reportedAt { return a.reportedAt < b.reportedAt }
        if a.lottery != b.lottery { return a.lottery < b.lottery }
        return (a.schoolCode, a.studentRef) < (b.schoolCode, b.studentRef)
    }

    /// The candidates in rank order. Keys are computed once per candidate, not per comparison.
    func sorted(_ candidates: [Candidate]) -> [Candidate] {
        let keys = candidates.map { (position[$0.category]!, $0.reportedAt) }
        let order = candidates.indices.sorted { i, j in
            if keys[i].0 != keys[j].0 { return keys[i].0 < keys[j].0 }
            if keys[i].1 != keys[j].1 { return keys[i].1 < keys[j].1 }
            let a = candidates[i], b = candidates[j]
            if a.lottery != b.lottery { return a.lottery < b.lottery }
            return (a.schoolCode, a.studentRef) < (b.schoolCode, b.studentRef)
        }
        return order.map { candidates[$0] }
    }
}

enum Lottery {
    /// `sha256(campaign ":" school_code ":" student_ref)` in lowercase hex; the database computes the same
    /// (`AllocationStore.lotterySQL`).
    static func ticket(campaign: String, schoolCode: String, studentRef: String) -> String {
        SHA256.hexDigest(of: Array("\(campaign):\(schoolCode):\(studentRef)".utf8))
    }
}
