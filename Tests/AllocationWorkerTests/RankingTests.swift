import Foundation
import Shared
import Testing

@testable import AllocationWorker

/// Candidates and devices for the allocation tests, as the store would hand them to the allocator.
enum Sample {
    static let campaign = "vn-song-2021"
    static let school = "TDM-TH-01"
    static let region = "Bình Dương"
    /// 2021-11-18T10:00:00+07:00, the contract's example needs report.
    static let reported = Date(timeIntervalSince1970: 1_637_204_400)

    /// A candidate reported `minutes` after ``reported``, with the lottery ticket the database computes for it.
    static func candidate(_ ref: String, _ category: StudentCategory, minutes: Int = 0, school: String = school,
                          region: String = region, campaign: String = campaign) -> Candidate {
        Candidate(schoolCode: school, studentRef: ref, region: region, category: category,
                  reportedAt: reported.addingTimeInterval(TimeInterval(minutes * 60)),
                  lottery: Lottery.ticket(campaign: campaign, schoolCode: school, studentRef: ref))
    }

    /// A candidate with a chosen lottery ticket, to make ties come out a known way.
    static func candidate(_ ref: String, _ category: StudentCategory, minutes: Int = 0, school: String = school,
                          region: String = region, lottery: String) -> Candidate {
        Candidate(schoolCode: school, studentRef: ref, region: region, category: category,
                  reportedAt: reported.addingTimeInterval(TimeInterval(minutes * 60)), lottery: lottery)
    }

    static func pool(_ serial: String) -> AvailableDevice { AvailableDevice(serial: serial, targetSchoolCode: nil) }

    static func targeted(_ serial: String, to school: String) -> AvailableDevice {
        AvailableDevice(serial: serial, targetSchoolCode: school)
    }

    static let contractRanking = Ranking(priority: [.covidOrphan, .poorHousehold, .nearPoorHousehold, .otherHardship])
}

@Suite("Ranking and lottery")
struct RankingTests {
    typealias S = Sample

    // MARK: Categories

    struct CategoryCase: Sendable, CustomTestStringConvertible {
        var priority: [StudentCategory]
        /// The categories in the order the ranking must put them.
        var expected: [StudentCategory]
        var testDescription: String { priority.map(\.rawValue).joined(separator: ">") }
    }

    static let categoryCases: [CategoryCase] = [
        // The contract's default order.
        CategoryCase(priority: [.covidOrphan, .poorHousehold, .nearPoorHousehold, .otherHardship],
                     expected: [.covidOrphan, .poorHousehold, .nearPoorHousehold, .otherHardship]),
        // A campaign that puts poverty first.
        CategoryCase(priority: [.poorHousehold, .nearPoorHousehold, .covidOrphan, .otherHardship],
                     expected: [.poorHousehold, .nearPoorHousehold, .covidOrphan, .otherHardship]),
        // Reversed.
        CategoryCase(priority: [.otherHardship, .nearPoorHousehold, .poorHousehold, .covidOrphan],
                     expected: [.otherHardship, .nearPoorHousehold, .poorHousehold, .covidOrphan]),
        // Categories left out rank after the listed ones, in the contract's order.
        CategoryCase(priority: [.nearPoorHousehold],
                     expected: [.nearPoorHousehold, .covidOrphan, .poorHousehold, .otherHardship]),
        CategoryCase(priority: [.otherHardship, .covidOrphan],
                     expected: [.otherHardship, .covidOrphan, .poorHousehold, .nearPoorHousehold]),
        CategoryCase(priority: [], expected: [.covidOrphan, .poorHousehold, .nearPoorHousehold, .otherHardship]),
    ]

    @Test("categories rank in the campaign's priority order", arguments: categoryCases)
    func categoriesFollowThePriority(_ testCase: CategoryCase) {
        let ranking = Ranking(priority: testCase.priority)
        #expect(ranking.priority == testCase.expected)
        // The category outweighs everything else: the first category reported last, with the worst ticket.
        let candidates = testCase.expected.enumerated().map { index, category in
            S.candidate("HS-\(index)", category, minutes: (testCase.expected.count - index) * 60,
                        lottery: String(repeating: String(index), count: 64))
        }
        for order in [candidates, candidates.reversed(), candidates.shuffled()] {
            #expect(ranking.sorted(Array(order)).map(\.category) == testCase.expected)
        }
    }

    @Test("a category the campaign ranks higher beats an earlier report and a better ticket")
    func categoryBeatsReportTimeAndLottery() {
        let orphan = S.candidate("HS-late", .covidOrphan, minutes: 24 * 60, lottery: String(repeating: "f", count: 64))
        let poor = S.candidate("HS-early", .poorHousehold, minutes: 0, lottery: String(repeating: "0", count: 64))
        #expect(S.contractRanking.precedes(orphan, poor))
        #expect(!S.contractRanking.precedes(poor, orphan))
        let poorFirst = Ranking(priority: [.poorHousehold, .covidOrphan])
        #expect(poorFirst.precedes(poor, orphan))
        #expect(!poorFirst.precedes(orphan, poor))
    }

    // MARK: Ties

    struct TieCase: Sendable, CustomTestStringConvertible {
        var name: String
        var candidates: [Candidate]
        var expectedRefs: [String]
        var testDescription: String { name }
    }

    static let tieCases: [TieCase] = [
        TieCase(name: "same category: the earlier report first, whatever the ticket",
                candidates: [S.candidate("B", .poorHousehold, minutes: 5, lottery: "00"),
                             S.candidate("A", .poorHousehold, minutes: 1, lottery: "ff"),
                             S.candidate("C", .poorHousehold, minutes: 9, lottery: "11")],
                expectedRefs: ["A", "B", "C"]),
        TieCase(name: "same category and report: the lower ticket first",
                candidates: [S.candidate("A", .nearPoorHousehold, lottery: "c0"),
                             S.candidate("B", .nearPoorHousehold, lottery: "0a"),
                             S.candidate("C", .nearPoorHousehold, lottery: "7f")],
                expectedRefs: ["B", "C", "A"]),
        TieCase(name: "a one-second earlier report beats a better ticket",
                candidates: [S.candidate("A", .otherHardship, minutes: 0, lottery: "ff").reported(byOffset: 1),
                             S.candidate("B", .otherHardship, minutes: 0, lottery: "00").reported(byOffset: 2)],
                expectedRefs: ["A", "B"]),
        TieCase(name: "mixed: category, then report, then ticket",
                candidates: [S.candidate("P2", .poorHousehold, minutes: 10, lottery: "01"),
                             S.candidate("O1", .covidOrphan, minutes: 30, lottery: "99"),
                             S.candidate("P1", .poorHousehold, minutes: 10, lottery: "00"),
                             S.candidate("P0", .poorHousehold, minutes: 5, lottery: "ff"),
                             S.candidate("H1", .otherHardship, minutes: 0, lottery: "00"),
                             S.candidate("O0", .covidOrphan, minutes: 30, lottery: "98")],
                expectedRefs: ["O0", "O1", "P0", "P1", "P2", "H1"]),
        TieCase(name: "real tickets decide between students of the same category reported together",
                candidates: ["HS-0001", "HS-0002", "HS-0003", "HS-0004"].map { S.candidate($0, .poorHousehold) },
                expectedRefs: ["HS-0001", "HS-0002", "HS-0003", "HS-0004"].sorted {
                    Lottery.ticket(campaign: S.campaign, schoolCode: S.school, studentRef: $0)
                        < Lottery.ticket(campaign: S.campaign, schoolCode: S.school, studentRef: $1)
                }),
    ]

    @Test("ties fall to the earlier report, then the lottery", arguments: tieCases)
    func tiesAreBroken(_ testCase: TieCase) {
        for order in [testCase.candidates, testCase.candidates.reversed(), testCase.candidates.shuffled()] {
            #expect(S.contractRanking.sorted(Array(order)).map(\.studentRef) == testCase.expectedRefs)
        }
    }

    @Test("the order is strict and total, so the result does not depend on the input order")
    func orderIsStrictAndTotal() {
        var candidates: [Candidate] = []
        for (index, category) in StudentCategory.allCases.enumerated() {
            for minutes in [0, 30] {
                for school in ["TDM-TH-01", "TDM-TH-02"] {
                    candidates.append(S.candidate("HS-\(index)-\(minutes)", category, minutes: minutes, school: school))
                }
            }
        }
        // Two different students with the same ticket (not reachable with real hashes): school, then ref.
        candidates.append(S.candidate("Z", .otherHardship, minutes: 90, school: "A", lottery: "aa"))
        candidates.append(S.candidate("Y", .otherHardship, minutes: 90, school: "B", lottery: "aa"))
        candidates.append(S.candidate("X", .otherHardship, minutes: 90, school: "B", lottery: "aa"))
        let ranking = S.contractRanking
        for a in candidates {
            #expect(!ranking.precedes(a, a), "irreflexive: \(a.studentRef)")
            for b in candidates where a != b {
                #expect(ranking.precedes(a, b) != ranking.precedes(b, a), "total: \(a.studentRef) vs \(b.studentRef)")
            }
        }
        let reference = ranking.sorted(candidates)
        for _ in 0..<20 {
            #expect(ranking.sorted(candidates.shuffled()) == reference)
        }
        #expect(reference.suffix(3).map(\.studentRef) == ["Z", "X", "Y"])
    }

    // MARK: Lottery

    struct TicketCase: Sendable, CustomTestStringConvertible {
        var campaign: String
        var school: String
        var ref: String
        /// `printf '%s:%s:%s' campaign school ref | sha256sum`, computed outside Swift.
        var sha256: String
        var testDescription: String { "\(campaign):\(school):\(ref)" }
    }

    static let ticketCases: [TicketCase] = [
        TicketCase(campaign: "vn-song-2021", school: "TDM-TH-01", ref: "HS-0001",
                   sha256: "970c75ff5023db0f6b8f5e7f7e9dc3fac9356f83901c537fdc4d16e1bb93e965"),
        TicketCase(campaign: "vn-song-2021", school: "TDM-TH-01", ref: "HS-0002",
                   sha256: "b2e5f1b351f021d8c975bedd0f905ef5cfa2126b587920cb924104f6e19a48d4"),
        TicketCase(campaign: "vn-song-2021", school: "TDM-TH-01", ref: "Nguyễn-Văn-An",
                   sha256: "eb0f947e093fc83b6ac2a4b7c03bcccc98d38660abbb1892a611aa3a649c1b12"),
        TicketCase(campaign: "vn-song-2021", school: "TDM-TH-01", ref: "HS-ĐỖ-01",
                   sha256: "d14a65a44f543cfd4d4c3816dea71e34122f07f997b73a7cdac5b563a9eaff86"),
        TicketCase(campaign: "gr-ict-2022", school: "0551010", ref: "Μαθητής-Α",
                   sha256: "7ec543e735fdc62a8d4a5316dd20c2c2012543ed20d2b76da7e97da87987da5a"),
        TicketCase(campaign: "vn-song-2021", school: "TDM-TH-01", ref: "学生-😀",
                   sha256: "2c2d0022ce8b422585c4fd015309c2f29531c7c8419203b1601d57c88d9ae21c"),
    ]

    @Test("the lottery ticket is the SHA-256 hex of campaign:school:ref", arguments: ticketCases)
    func lotteryIsSHA256OfCampaignSchoolAndRef(_ testCase: TicketCase) {
        let ticket = Lottery.ticket(campaign: testCase.campaign, schoolCode: testCase.school, studentRef: testCase.ref)
        #expect(ticket == testCase.sha256)
        #expect(ticket.count == 64)
        #expect(ticket.allSatisfy { "0123456789abcdef".contains($0) })
    }

    @Test("a ticket depends on the campaign, the school and the student, and on nothing else")
    func ticketDependsOnCampaignSchoolAndStudentOnly() {
        let base = Lottery.ticket(campaign: "vn-song-2021", schoolCode: "TDM-TH-01", studentRef: "HS-0001")
        #expect(Lottery.ticket(campaign: "vn-song-2021", schoolCode: "TDM-TH-01", studentRef: "HS-0001") == base)
        #expect(Lottery.ticket(campaign: "vn-song-2022", schoolCode: "TDM-TH-01", studentRef: "HS-0001") != base)
        #expect(Lottery.ticket(campaign: "vn-song-2021", schoolCode: "TDM-TH-02", studentRef: "HS-0001") != base)
        #expect(Lottery.ticket(campaign: "vn-song-2021", schoolCode: "TDM-TH-01", studentRef: "HS-0002") != base)
        // The same student in the same campaign has the same ticket whatever else is known about them.
        let a = S.candidate("HS-0001", .covidOrphan, minutes: 0)
        let b = S.candidate("HS-0001", .otherHardship, minutes: 600)
        #expect(a.lottery == b.lottery)
    }
}

extension Candidate {
    /// The same candidate reported `seconds` later.
    func reported(byOffset seconds: TimeInterval) -> Candidate {
        var copy = self
        copy.reportedAt = reportedAt.addingTimeInterval(seconds)
        return copy
    }
}
