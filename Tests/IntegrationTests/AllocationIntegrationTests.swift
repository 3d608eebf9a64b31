import Foundation
import Testing

@testable import Shared

/// Runs the real `AllocationWorker` executable against RabbitMQ and PostgreSQL (`source .data/env.sh`), each test in
/// a scratch vhost and database of its own; campaigns, schools, students and devices are seeded with SQL.
///
/// Workers run with `SCHOOLICT_NOW=2022-02-01T10:00:00+02:00`, after the campaign's needs-report deadline
/// (20 November 2021): each worker's first idle moment makes the campaign's deadline run, so tests wait for it
/// before they add the devices a command run is to allocate.
@Suite("AllocationWorker integration", .serialized, .integration)
struct AllocationIntegrationTests {
    typealias F = Fixtures
    typealias Seed = AllocationSeed

    static let schoolA = "TDM-TH-01"
    static let schoolB = "TDM-THCS-02"
    static let schoolC = "HN-TH-01"
    static let schoolD = "DN-TH-01"

    /// `Lottery.ticket` as the contract defines it (the unit tests check the worker's against the same values).
    static func ticket(_ school: String, _ ref: String, campaign: String = Seed.campaign) -> String {
        SHA256.hexDigest(of: Array("\(campaign):\(school):\(ref)".utf8))
    }

    // MARK: (a) the lottery

    @Test func sqlLotteryEqualsTheSwiftLotteryForUnicodeRefsAndDecidesTies() throws {
        try withHarness { harness in
            // The contract's definition in SQL, as AllocationStore.lotterySQL writes it, on known values
            // (`printf 'vn-song-2021:TDM-TH-01:HS-0001' | sha256sum`, and the unit tests' unicode cases).
            let known: [(campaign: String, school: String, ref: String, sha256: String)] = [
                ("vn-song-2021", "TDM-TH-01", "HS-0001", "970c75ff5023db0f6b8f5e7f7e9dc3fac9356f83901c537fdc4d16e1bb93e965"),
                ("vn-song-2021", "TDM-TH-01", "Nguyễn-Văn-An", "eb0f947e093fc83b6ac2a4b7c03bcccc98d38660abbb1892a611aa3a649c1b12"),
                ("vn-song-2021", "TDM-TH-01", "HS-ĐỖ-01", "d14a65a44f543cfd4d4c3816dea71e34122f07f997b73a7cdac5b563a9eaff86"),
                ("gr-ict-2022", "0551010", "Μαθητής-Α", "7ec543e735fdc62a8d4a5316dd20c2c2012543ed20d2b76da7e97da87987da5a"),
                ("vn-song-2021", "TDM-TH-01", "学生-😀", "2c2d0022ce8b422585c4fd015309c2f29531c7c8419203b1601d57c88d9ae21c"),
            ]
            for (campaign, school, ref, expected) in known {
                let sql = try harness.database.query(
                    "SELECT encode(sha256(convert_to($1 || ':' || $2 || ':' || $3, 'UTF8')), 'hex')", [campaign, school, ref])
                #expect(try sql[0].string(0) == expected, "\(ref)")
                #expect(Self.ticket(school, ref, campaign: campaign) == expected, "\(ref)")
            }

            // Stored students with unicode references (one written with combining marks), all of one category and
            // reported together: only the lottery tells them apart.
            let refs = ["Nguyễn-Văn-An", "HS-ĐỖ-01", "Μαθητής-Α", "学生-😀", "Trần Thị Bình", "Lê-Ánh", "Phạm Đức",
                        "Hoàng-Yến", "Vu\u{0303}-Tha\u{0309}o", "Đặng-Khoa", "Bùi-Quỳnh", "Đỗ-Hải"]
            try harness.seed.deviceCampaign()
            try harness.seed.school(Self.schoolA, region: "Bình Dương")
            try harness.seed.students(refs.map { Seed.Student(school: Self.schoolA, ref: $0, category: "poor_household") })
            let stored = try harness.database.query("""
                SELECT student_ref,
                       encode(sha256(convert_to(campaign || ':' || school_code || ':' || student_ref, 'UTF8')), 'hex')
                FROM students WHERE campaign = $1
                """, [Seed.campaign])
            #expect(stored.count == refs.count)
            for row in stored {
                let ref = try row.string(0)
                #expect(Array(ref.utf8) == Array(try #require(refs.first { $0 == ref }).utf8), "stored byte for byte")
                #expect(try row.string(1) == Self.ticket(Self.schoolA, ref), "\(ref)")
            }

            // End to end: half as many pool devices as students go to the lowest tickets, ranked by ticket.
            try harness.startWorker()
            try harness.awaitDeadlineRun()
            try harness.seed.devices(batch: "LOT", targets: Array(repeating: nil, count: 6))
            let outcome = try harness.send(F.allocationRun(id: "lottery-run"))
            #expect(outcome.routingKey == "command.accepted.allocation.run", "\(outcome.body.jsonString)")
            let byTicket = refs.sorted { Self.ticket(Self.schoolA, $0) < Self.ticket(Self.schoolA, $1) }
            let allocated = try harness.database.query(
                "SELECT student_ref, rank, device_serial FROM allocations WHERE run_id = 'run-lottery-run' ORDER BY rank")
            #expect(try allocated.map { Array(try $0.string(0).utf8) } == byTicket.prefix(6).map { Array($0.utf8) })
            #expect(try allocated.map { try $0.int(1) } == Array(1...6))
            #expect(try allocated.map { try $0.string(2) } == (0..<6).map { "LOT-000\($0)" })
        }
    }

    // MARK: (b) (e) a command run, a run with nothing new, scoped runs

    @Test func commandRunFollowsTheRulesAndASecondRunChangesNothing() throws {
        try withHarness { harness in
            let (a, b, c, d) = (Self.schoolA, Self.schoolB, Self.schoolC, Self.schoolD)
            let seed = harness.seed
            try seed.deviceCampaign()
            try seed.school(a, region: "Bình Dương")
            try seed.school(b, region: "Bình Dương", level: "lower_secondary")
            try seed.school(c, region: "Hà Nội")
            try seed.school(d, region: "Đà Nẵng")
            // Two poor-household students of school A reported together: the lottery orders them.
            let tied = ["HS-Nguyễn-Văn-An", "HS-Trần-Thị-Bình"].sorted { Self.ticket(a, $0) < Self.ticket(a, $1) }
            try seed.students([
                .init(school: a, ref: "HS-A-orphan", category: "covid_orphan"),
                .init(school: a, ref: tied[1], category: "poor_household", minutes: 60),
                .init(school: a, ref: tied[0], category: "poor_household", minutes: 60),
                .init(school: a, ref: "HS-A-near", category: "near_poor_household"),
                .init(school: a, ref: "HS-A-late", category: "covid_orphan", late: true),
                .init(school: a, ref: "HS-A-has-device", category: "covid_orphan"),
                .init(school: b, ref: "HS-B-poor", category: "poor_household"),
                .init(school: b, ref: "HS-B-other", category: "other_hardship"),
                .init(school: c, ref: "HS-C-orphan", category: "covid_orphan", minutes: 120),
                .init(school: c, ref: "HS-C-poor", category: "poor_household", minutes: 180),
                .init(school: c, ref: "HS-C-late", category: "covid_orphan", late: true),
            ])
            // A student who already has a device from an earlier run.
            try seed.devices(batch: "OLD", targets: [nil])
            try seed.existingAllocation(serial: "OLD-0000", school: a, ref: "HS-A-has-device", category: "covid_orphan")

            try harness.startWorker()
            try harness.awaitDeadlineRun()
            #expect(try harness.scalar("SELECT count(*) FROM allocations") == 1, "no device yet for the deadline run")

            // D1-0000 → school A, D1-0001 → school D (nobody waiting there), D1-0002…4 → the pool.
            try seed.devices(batch: "D1", targets: [a, d, nil, nil, nil])
            let first = try harness.send(F.allocationRun(id: "alloc-1"))
            #expect(first.routingKey == "command.accepted.allocation.run", "\(first.body.jsonString)")
            #expect(first.messageID == "outcome-alloc-1")
            #expect(first.status == "on_time")
            #expect(first.summary?["run_id"]?.stringValue == "run-alloc-1")
            #expect(first.summary?["allocated"]?.intValue == 4)
            #expect(first.summary?["waiting"]?.intValue == 4)
            #expect(first.summary?["eligible"]?.intValue == 8)
            #expect(first.summary?["late_excluded"]?.intValue == 2)
            #expect(first.summary?["devices_available"]?.intValue == 5)

            // The campaign's order: A-orphan 1, C-orphan 2, B-poor 3, tied[0] 4, tied[1] 5, C-poor 6, A-near 7, B-other 8.
            let expectedRun1: [Row] = [
                Row(serial: "D1-0000", school: a, ref: "HS-A-orphan", rank: 1, category: "covid_orphan", rule: "targeted_school"),
                Row(serial: "D1-0002", school: c, ref: "HS-C-orphan", rank: 2, category: "covid_orphan", rule: "pool_priority"),
                Row(serial: "D1-0003", school: b, ref: "HS-B-poor", rank: 3, category: "poor_household", rule: "pool_priority"),
                Row(serial: "D1-0004", school: a, ref: tied[0], rank: 4, category: "poor_household", rule: "pool_priority"),
            ]
            #expect(try allocations(harness, run: "run-alloc-1") == expectedRun1)

            let schoolEvents = try harness.awaitEvents("allocation.school", correlationID: "run-alloc-1", count: 3)
            #expect(schoolEvents.map { $0.body["school_code"]?.stringValue } == [c, a, b])
            #expect(Set(schoolEvents.compactMap(\.messageID)) == Set([a, b, c].map { "allocation-run-alloc-1-\($0)" }))
            for event in schoolEvents {
                #expect(event.body["campaign"]?.stringValue == Seed.campaign)
                #expect(event.body["run_id"]?.stringValue == "run-alloc-1")
                let school = try #require(event.body["school_code"]?.stringValue)
                let listed = try #require(event.body["allocations"]?.arrayValue).map { item in
                    Row(serial: item["device_serial"]?.stringValue ?? "", school: school,
                        ref: item["student_ref"]?.stringValue ?? "", rank: item["rank"]?.intValue ?? 0,
                        category: item["category"]?.stringValue ?? "", rule: item["rule"]?.stringValue ?? "")
                }
                #expect(listed.sorted() == expectedRun1.filter { $0.school == school }.sorted())
            }
            let completed = try #require(try harness.awaitEvents("allocation.completed", correlationID: "run-alloc-1").first)
            #expect(completed.messageID == "allocation-completed-run-alloc-1")
            #expect(completed.body["campaign"]?.stringValue == Seed.campaign)
            #expect(completed.body["run_id"]?.stringValue == "run-alloc-1")
            #expect(completed.body["allocated"]?.intValue == 4)
            #expect(completed.body["waiting"]?.intValue == 4)
            let perSchool = try #require(completed.body["schools"]?.arrayValue)
            #expect(perSchool.map { $0["school_code"]?.stringValue } == [c, a, b])
            #expect(perSchool.map { $0["devices"]?.intValue } == [1, 2, 1])

            let run = try #require(try harness.database.query("""
                SELECT trigger, trigger_message_id, region, school_code, eligible, late_excluded, devices_available,
                       allocated, waiting, pool_devices, targeted_devices, finished_at IS NOT NULL AS finished
                FROM allocation_runs WHERE run_id = 'run-alloc-1'
                """).first)
            #expect(try run.string("trigger") == "command")
            #expect(try run.optionalString("trigger_message_id") == "alloc-1")
            #expect(try run.optionalString("region") == nil)
            #expect(try run.optionalString("school_code") == nil)
            #expect(try [run.int("eligible"), run.int("late_excluded"), run.int("devices_available"), run.int("allocated"),
                         run.int("waiting"), run.int("pool_devices"), run.int("targeted_devices")] == [8, 2, 5, 4, 4, 3, 2])
            #expect(try run.bool("finished"))

            // (e) Nothing new: the second run allocates nothing and moves nothing.
            let before = try allocations(harness)
            let second = try harness.send(F.allocationRun(id: "alloc-2"))
            #expect(second.routingKey == "command.accepted.allocation.run")
            #expect(second.summary?["allocated"]?.intValue == 0)
            #expect(second.summary?["waiting"]?.intValue == 4)
            let secondCompleted = try #require(
                try harness.awaitEvents("allocation.completed", correlationID: "run-alloc-2").first)
            #expect(secondCompleted.body["allocated"]?.intValue == 0)
            #expect(secondCompleted.body["waiting"]?.intValue == 4)
            #expect(secondCompleted.body["schools"]?.arrayValue?.isEmpty == true)
            #expect(harness.outcomes.outcomes(of: "run-alloc-2").filter { $0.routingKey == "allocation.school" }.isEmpty)
            #expect(try allocations(harness) == before)

            // The same command delivered again: the same outcome, no second run.
            try harness.publish(F.allocationRun(id: "alloc-1"))
            _ = try harness.awaitOutcomes(["alloc-1"], count: 2)
            let repeated = harness.outcomes.outcomes(of: "alloc-1").filter { $0.routingKey.hasPrefix("command.") }
            #expect(repeated.count == 2)
            #expect(repeated.map(\.messageID) == ["outcome-alloc-1", "outcome-alloc-1"])
            #expect(repeated[0].body == repeated[1].body)
            #expect(try harness.scalar("SELECT count(*) FROM allocation_runs WHERE trigger_message_id = 'alloc-1'") == 1)
            #expect(try allocations(harness) == before)

            // A region run: only Hà Nội's students and the devices they may get (the pool, and school C's).
            try seed.devices(batch: "D2", targets: [c, a, nil])
            let regional = try harness.send(F.allocationRun(id: "alloc-3", region: "Hà Nội"))
            #expect(regional.routingKey == "command.accepted.allocation.run", "\(regional.body.jsonString)")
            #expect(regional.summary?["eligible"]?.intValue == 1)
            #expect(regional.summary?["late_excluded"]?.intValue == 1)
            #expect(regional.summary?["devices_available"]?.intValue == 2)
            #expect(regional.summary?["waiting"]?.intValue == 0)
            #expect(try allocations(harness, run: "run-alloc-3") == [
                Row(serial: "D2-0000", school: c, ref: "HS-C-poor", rank: 1, category: "poor_household", rule: "targeted_school"),
            ])
            let regionRun = try #require(try harness.database.query(
                "SELECT region, school_code FROM allocation_runs WHERE run_id = 'run-alloc-3'").first)
            #expect(try regionRun.optionalString("region") == "Hà Nội")

            // The campaign again: school A's device to its best waiting student, the pool device down the ranking.
            let last = try harness.send(F.allocationRun(id: "alloc-4"))
            #expect(last.summary?["allocated"]?.intValue == 2)
            #expect(last.summary?["waiting"]?.intValue == 1)
            #expect(try allocations(harness, run: "run-alloc-4") == [
                Row(serial: "D2-0001", school: a, ref: tied[1], rank: 1, category: "poor_household", rule: "targeted_school"),
                Row(serial: "D2-0002", school: a, ref: "HS-A-near", rank: 2, category: "near_poor_household",
                    rule: "pool_priority"),
            ])
            _ = try harness.awaitEvents("allocation.completed", correlationID: "run-alloc-4")

            // Late students never; earlier allocations never moved; the device for school D still free.
            #expect(try harness.scalar("""
                SELECT count(*) FROM allocations WHERE student_ref IN ('HS-A-late', 'HS-C-late')
                """) == 0)
            #expect(try allocations(harness).filter { before.contains($0) } == before)
            #expect(try harness.scalar("SELECT count(*) FROM allocations WHERE device_serial = 'D1-0001'") == 0)
            #expect(try harness.scalar("SELECT count(*) FROM allocations WHERE student_ref = 'HS-A-has-device'") == 1)
            #expect(try AllocationInvariants.check(harness.database) == .clean)
        }
    }

    // MARK: (c) concurrent workers and overlapping runs

    @Test func fourWorkersAndOverlappingRunsKeepTheInvariants() throws {
        try withHarness { harness in
            let seed = harness.seed
            try seed.deviceCampaign()
            let regions = ["Bình Dương", "Hà Nội", "Đà Nẵng", "Cần Thơ"]
            let schools = (0..<40).map { String(format: "CC-%02d", $0) }
            try seed.schools(schools + ["CC-EMPTY"], regions: schools.indices.map { regions[$0 % 4] } + ["Hà Nội"])
            var students: [Seed.Student] = []
            for (index, school) in schools.enumerated() {
                for number in 0..<15 {
                    let n = index * 15 + number
                    students.append(Seed.Student(school: school, ref: "HS-\(n)", category: Seed.contractPriority[(n * 7) % 4],
                                                 minutes: ((n * 13) % 6) * 30, late: n % 10 == 3))
                }
            }
            try seed.students(students)
            let eligible = students.filter { !$0.late }.count

            // Two workers with small batches, two with the defaults.
            try harness.startWorker(batchSize: 2)
            try harness.startWorker(batchSize: 2)
            try harness.startWorker()
            try harness.startWorker()

            var commandIDs: [String] = []
            var triggers = 0
            for round in 0..<20 {
                // New donations between runs: pool devices and devices for single schools (some for an empty one).
                let targets: [String?] = (0..<30).map { i in
                    switch (round * 30 + i) % 10 {
                    case 0, 1, 2: schools[(round * 7 + i * 11) % schools.count]
                    case 3 where i % 2 == 0: "CC-EMPTY"
                    default: nil
                    }
                }
                try seed.devices(batch: "R\(round)", targets: targets,
                                 receivedAt: Seed.date("2021-11-22T08:00:00+07:00").addingTimeInterval(Double(round) * 60))
                let id = "cc-run-\(round)"
                commandIDs.append(id)
                var messages = [round % 5 == 4 ? F.allocationRun(id: id, region: regions[round % 4]) : F.allocationRun(id: id)]
                // Accepted donations trigger runs of their own.
                messages += (0..<5).map { F.acceptedEvent("donation_record", submissionID: "don-\(round)-\($0)") }
                triggers += 5
                try harness.publish(messages)
                try harness.outcomes.drain(for: .milliseconds(40))
                #expect(try AllocationInvariants.check(harness.database) == .clean, "round \(round)")
            }
            // After the last devices: campaign-wide runs that must leave nothing unserved.
            let finals = ["cc-final-1", "cc-final-2"]
            try harness.publish(finals.map { F.allocationRun(id: $0) })
            commandIDs += finals
            _ = try harness.awaitOutcomes(commandIDs, timeout: .seconds(90))

            // Let event-triggered runs still queued finish: the number of runs stops changing.
            var lastCount = -1
            var stableSince = ContinuousClock.now
            try harness.waitUntil("allocation runs stop", timeout: .seconds(60)) {
                let count = try harness.scalar("SELECT count(*) FROM allocation_runs")
                if count != lastCount { (lastCount, stableSince) = (count, .now) }
                return ContinuousClock.now - stableSince > .seconds(2)
            }

            #expect(try AllocationInvariants.check(harness.database) == .clean)
            #expect(try AllocationInvariants.unservedDevices(harness.database) == 0)
            let devices = try harness.scalar("SELECT count(*) FROM devices")
            let allocated = try harness.scalar("SELECT count(*) FROM allocations")
            #expect(allocated <= min(devices, eligible))
            #expect(allocated > 0)

            // Every command answered once, accepted, with exactly one run of its own.
            for id in commandIDs {
                let answers = harness.outcomes.outcomes(of: id)
                #expect(answers.map(\.routingKey) == ["command.accepted.allocation.run"], "\(id)")
            }
            #expect(try harness.scalar("""
                SELECT count(DISTINCT trigger_message_id) FROM allocation_runs WHERE trigger = 'command'
                """) == commandIDs.count)
            #expect(try harness.scalar("SELECT count(*) FROM allocation_runs WHERE trigger = 'command'") == commandIDs.count)
            // Runs really overlapped: transactions of different workers in flight at once (one waiting on the lock).
            let overlapping = try harness.scalar("""
                SELECT count(*) FROM allocation_runs a JOIN allocation_runs b ON a.run_id < b.run_id
                WHERE a.started_at <> b.started_at AND a.started_at < b.finished_at AND b.started_at < a.finished_at
                """)
            #expect(overlapping > 0, "no two runs were ever in flight together")
            // Bursts coalesce: fewer runs than triggering events.
            let eventRuns = try harness.scalar("SELECT count(*) FROM allocation_runs WHERE trigger = 'event'")
            #expect(eventRuns < triggers)

            // The audit adds up: each run's figure is its rows, and every run published allocation.completed
            // (except triggered runs that found nothing to allocate: they stay silent).
            #expect(try harness.scalar("""
                SELECT count(*) FROM allocation_runs r
                WHERE r.allocated IS DISTINCT FROM (SELECT count(*) FROM allocations a WHERE a.run_id = r.run_id)
                """) == 0)
            let runIDs = Set(try harness.database.query(
                "SELECT run_id FROM allocation_runs WHERE trigger = 'command' OR allocated > 0").map { try $0.string(0) })
            try harness.waitUntil("every run's allocation.completed is published", timeout: .seconds(20)) {
                Set(harness.events("allocation.completed").compactMap { $0.body["run_id"]?.stringValue }).isSuperset(of: runIDs)
            }
            let completedIDs = harness.events("allocation.completed").compactMap(\.messageID)
            #expect(Set(completedIDs) == Set(runIDs.map { "allocation-completed-\($0)" }))
        }
    }

    // MARK: (d) a worker killed mid-run

    @Test func workerKilledMidRunLeavesAllOrNothingAndTheRunCompletesOnce() throws {
        try withHarness { harness in
            let seed = harness.seed
            try seed.deviceCampaign()
            try seed.bigCampaign(schools: 200, students: 200_000, lateEvery: 10)
            let worker = try harness.startWorker()
            try harness.awaitDeadlineRun()
            try seed.bigDonation(count: 50_000, schools: 200)

            try harness.publish(F.allocationRun(id: "big-1"))
            // The run holds the campaign's advisory lock from its first statement to its commit.
            let lockHeld = """
                SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database
                WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()
                """
            let deadline = ContinuousClock.now + .seconds(30)
            while try harness.scalar(lockHeld) == 0, ContinuousClock.now < deadline {
                try harness.checkWorkers()
                Thread.sleep(forTimeInterval: 0.005)
            }
            Thread.sleep(forTimeInterval: 0.3)
            worker.crash()

            // All or nothing: the killed transaction left no allocation, no run and no claim of the command.
            let committed = try harness.scalar("SELECT count(*) FROM allocation_runs WHERE trigger_message_id = 'big-1'")
            let rows = try harness.scalar("SELECT count(*) FROM allocations WHERE run_id = 'run-big-1'")
            #expect(committed == 0, "the run finished before the kill: make the campaign bigger")
            #expect(rows == 0 || rows == 50_000, "a half-made allocation: \(rows) rows")
            #expect(try harness.scalar("SELECT count(*) FROM allocations") == rows)
            #expect(harness.outcomes.outcomes(of: "big-1").isEmpty)

            // Restarted, the worker gets the command again and runs it once.
            try harness.startWorker()
            let outcome = try harness.awaitOutcome("big-1", timeout: .seconds(90))
            #expect(outcome.routingKey == "command.accepted.allocation.run", "\(outcome.body.jsonString)")
            #expect(outcome.summary?["allocated"]?.intValue == 50_000)
            #expect(try harness.scalar("SELECT count(*) FROM allocation_runs WHERE trigger_message_id = 'big-1'") == 1)
            #expect(try harness.scalar("SELECT count(*) FROM allocations WHERE run_id = 'run-big-1'") == 50_000)
            #expect(try harness.scalar("SELECT count(*) FROM allocations") == 50_000)
            #expect(try harness.scalar("SELECT count(*) FROM processed_messages WHERE message_id = 'big-1'") == 1)
            #expect(try AllocationInvariants.check(harness.database) == .clean)
            try harness.outcomes.drain(for: .seconds(1))
            #expect(harness.outcomes.outcomes(of: "big-1").count == 1, "one outcome per command")
        }
    }

    // MARK: Triggers

    @Test func acceptedSubmissionsTriggerRunsOnlyAfterTheDeadlineAndBurstsCoalesce() throws {
        try withHarness { harness in
            let seed = harness.seed
            try seed.deviceCampaign()
            try seed.school(Self.schoolA, region: "Bình Dương")
            try seed.students((0..<30).map { Seed.Student(school: Self.schoolA, ref: "HS-\($0)", category: "poor_household",
                                                          minutes: $0) })
            try seed.devices(batch: "EV", targets: Array(repeating: nil, count: 10))

            // Before the deadline: accepted reports and donations do not allocate (nor does the deadline check).
            let early = try harness.startWorker(now: "2021-11-19T12:00:00+07:00")
            try harness.publish((0..<100).map { F.acceptedEvent($0 % 2 == 0 ? "donation_record" : "device_need_report",
                                                                 submissionID: "early-\($0)") })
            // A command after them on the same queue: once it is answered, the events before it were handled.
            let sentinel = try harness.send(F.allocationRun(id: "sentinel-early", campaign: "no-such-campaign"))
            #expect(sentinel.routingKey == "command.rejected.allocation.run")
            #expect(sentinel.errorCodes == ["unknown_campaign"])
            try harness.outcomes.drain(for: .milliseconds(1500))
            #expect(try harness.scalar("SELECT count(*) FROM allocation_runs") == 0)
            #expect(try harness.scalar("SELECT count(*) FROM allocations") == 0)
            early.terminate()

            // After the deadline: a burst of a thousand events makes a few runs, not a thousand.
            try harness.startWorker()
            try harness.publish((0..<1000).map { F.acceptedEvent("donation_record", submissionID: "burst-\($0)") })
            _ = try harness.send(F.allocationRun(id: "sentinel-late", campaign: "no-such-campaign"), timeout: .seconds(60))
            let runs = try harness.scalar("SELECT count(*) FROM allocation_runs WHERE trigger IN ('event', 'deadline')")
            #expect(runs >= 1)
            #expect(runs <= 50, "\(runs) runs for 1000 events")
            #expect(try harness.scalar("SELECT count(*) FROM allocations") == 10)
            #expect(try AllocationInvariants.check(harness.database) == .clean)
        }
    }

    // MARK: (f) procurement plan

    @Test func procurementPlanIsPublishedAndStored() throws {
        try withHarness { harness in
            let db = harness.database
            try db.query("""
                INSERT INTO campaigns (campaign, kind, title, opens_at, deadline, timezone, staff_emails)
                VALUES ('gr-ict-2022', 'equipment_inventory', 'Απογραφή εξοπλισμού ΤΠΕ 2022', '2021-12-01T00:00:00+02:00',
                        '2022-01-21T23:59:59+02:00', 'Europe/Athens', '{ict@minedu.gov.gr}')
                """)
            try harness.seed.deviceCampaign()
            let schools: [(String, String, String, Int?)] = [
                ("0551010", "Ανατολική Μακεδονία και Θράκη", "secondary", 320),
                ("9051020", "Ήπειρος", "primary", 180),
                ("0740010", "Κρήτη", "secondary", 250),
                ("0740020", "Κρήτη", "secondary", 90),
                ("0740030", "Κρήτη", "primary", nil),
            ]
            for (code, region, level, students) in schools {
                try db.query("""
                    INSERT INTO schools (school_code, name, level, region, official_email, language, students)
                    VALUES ($1::text, 'Σχολείο ' || $1::text, $2, $3, 'mail@' || $1::text || '.sch.gr', 'el', $4::int)
                    """, [code, level, region, students])
            }
            // Submissions and their lines: (id, school, status, [(category, quantity, condition)]).
            let submissions: [(String, String, String, [(String, Int, String)])] = [
                ("inv-1", "0551010", "on_time", [("desktop", 12, "working"), ("laptop", 3, "faulty"), ("tablet", 5, "working"),
                                                 ("projector", 2, "working")]),
                ("inv-1-late", "0551010", "late", [("desktop", 100, "working")]),
                ("inv-2", "9051020", "on_time", [("laptop", 4, "working"), ("desktop", 2, "obsolete")]),
                ("inv-3", "0740010", "late", [("desktop", 30, "working")]),
                ("inv-5", "0740030", "on_time", [("desktop", 8, "working")]),
            ]
            for (id, school, status, lines) in submissions {
                try db.query("""
                    INSERT INTO submissions (message_id, type, campaign, school_code, submitted_by, submitted_at, status,
                                             procedure)
                    VALUES ($1, 'equipment_inventory', 'gr-ict-2022', $2::text, 'mail@' || $2::text || '.sch.gr',
                            CASE WHEN $3::text = 'late' THEN '2022-01-25T09:00:00+02:00'::timestamptz
                                 ELSE '2022-01-14T09:30:00+02:00'::timestamptz END, $3::text, 'insert')
                    """, [id, school, status])
                try db.query("""
                    INSERT INTO equipment_records (submission_id, campaign, school_code, lines)
                    SELECT $1, 'gr-ict-2022', $2,
                           jsonb_agg(jsonb_build_object('line_no', n, 'category', category, 'quantity', quantity,
                                                        'acquired_year', 2018, 'condition', condition))
                    FROM unnest($3::text[], $4::int[], $5::text[]) WITH ORDINALITY AS l(category, quantity, condition, n)
                    """, [id, school, lines.map(\.0), lines.map(\.1), lines.map(\.2)])
            }
            try harness.startWorker()

            let outcome = try harness.send(F.command("procurement.plan", id: "plan-1", body: [
                "campaign": "gr-ict-2022", "target_students_per_computer": 10,
            ]))
            #expect(outcome.routingKey == "command.accepted.procurement.plan", "\(outcome.body.jsonString)")
            #expect(outcome.summary?["plan_id"]?.stringValue == "plan-plan-1")
            #expect(outcome.summary?["schools_planned"]?.intValue == 2)
            #expect(outcome.summary?["computers_needed"]?.intValue == 15 + 14)

            let planned = try #require(try harness.awaitEvents("procurement.planned", correlationID: "plan-1").first)
            #expect(planned.messageID == "procurement-planned-plan-1")
            let body = planned.body
            #expect(body["campaign"]?.stringValue == "gr-ict-2022")
            #expect(body["target_students_per_computer"]?.intValue == 10)
            let planSchools = try #require(body["schools"]?.arrayValue)
            // Ordered by region, then school; working computers: on-time desktops, laptops and tablets in working order.
            #expect(planSchools.map { $0["school_code"]?.stringValue } == ["9051020", "0551010"])
            #expect(planSchools.map { $0["region"]?.stringValue } == ["Ήπειρος", "Ανατολική Μακεδονία και Θράκη"])
            #expect(planSchools.map { $0["students"]?.intValue } == [180, 320])
            #expect(planSchools.map { $0["working_computers"]?.intValue } == [4, 17])
            #expect(planSchools.map { $0["needed"]?.intValue } == [14, 15])
            let notPlanned = try #require(body["not_planned"]?.arrayValue)
            #expect(notPlanned.map { $0["school_code"]?.stringValue } == ["0740010", "0740020", "0740030"])
            #expect(notPlanned.map { $0["reason"]?.stringValue } == ["late", "missing", "no_student_count"])

            let stored = try #require(try db.query("""
                SELECT campaign, target_students_per_computer, body::text FROM procurement_plans WHERE plan_id = 'plan-plan-1'
                """).first)
            #expect(try stored.string("campaign") == "gr-ict-2022")
            #expect(try stored.double("target_students_per_computer") == 10)
            #expect(try JSONParser.parse(Array(stored.string("body").utf8)) == body)

            // Commands for the wrong kind of campaign, or none, are rejected.
            let rejected = try harness.send([
                F.command("procurement.plan", id: "plan-vn", body: ["campaign": .string(Seed.campaign),
                                                                    "target_students_per_computer": 10]),
                F.allocationRun(id: "alloc-gr", campaign: "gr-ict-2022"),
                F.allocationRun(id: "alloc-none", campaign: "no-such-campaign"),
            ])
            #expect(rejected["plan-vn"]?.routingKey == "command.rejected.procurement.plan")
            #expect(rejected["plan-vn"]?.errorCodes == ["wrong_campaign_kind"])
            #expect(rejected["alloc-gr"]?.routingKey == "command.rejected.allocation.run")
            #expect(rejected["alloc-gr"]?.errorCodes == ["wrong_campaign_kind"])
            #expect(rejected["alloc-none"]?.errorCodes == ["unknown_campaign"])
            #expect(try harness.scalar("SELECT count(*) FROM procurement_plans") == 1)
        }
    }

    // MARK: (g) handover

    @Test func handoverStoredBySubmissionWorkerMarksTheAllocation() throws {
        try withHarness { harness in
            let seed = harness.seed
            try seed.deviceCampaign()
            try seed.school(Self.schoolA, region: "Bình Dương")
            try seed.students([Seed.Student(school: Self.schoolA, ref: "HS-0001", category: "covid_orphan"),
                               Seed.Student(school: Self.schoolA, ref: "HS-0002", category: "poor_household")])
            try harness.startWorker()
            try harness.awaitDeadlineRun()
            try seed.devices(batch: "HO", targets: [Self.schoolA])
            let run = try harness.send(F.allocationRun(id: "alloc-ho"))
            #expect(run.summary?["allocated"]?.intValue == 1)

            let submissions = try harness.startOtherWorker("SubmissionWorker")
            defer {
                submissions.crash()
                try? FileManager.default.removeItem(at: submissions.logFile)
            }
            let handover = F.submission("handover_record", id: "ho-1", body: [
                "campaign": .string(Seed.campaign), "school_code": .string(Self.schoolA),
                "submitted_by": .string(Seed.email(Self.schoolA)), "submitted_at": "2022-01-31T16:00:00+07:00",
                "device_serial": "HO-0000", "student_ref": "HS-0001", "handed_over_at": "2022-01-31T09:00:00+07:00",
            ])
            let outcome = try harness.send(handover)
            #expect(outcome.routingKey == "submission.accepted.handover_record", "\(outcome.body.jsonString)")
            let marked = try #require(try harness.database.query(
                "SELECT student_ref, handed_over_at FROM allocations WHERE device_serial = 'HO-0000'").first)
            #expect(try marked.string("student_ref") == "HS-0001")
            #expect(try marked.optionalDate("handed_over_at") == Seed.date("2022-01-31T09:00:00+07:00"))
            #expect(submissions.isRunning)
        }
    }

    // MARK: Helpers

    /// One allocation as stored or announced.
    struct Row: Equatable, Comparable, CustomStringConvertible {
        var serial: String
        var school: String
        var ref: String
        var rank: Int
        var category: String
        var rule: String
        var description: String { "\(serial)→\(school)/\(ref)#\(rank) \(category) \(rule)" }
        static func < (l: Row, r: Row) -> Bool { l.serial < r.serial }
    }

    /// The allocations of a run (or all), by serial.
    private func allocations(_ harness: IntegrationHarness, run: String? = nil) throws -> [Row] {
        try harness.database.query("""
            SELECT device_serial, school_code, student_ref, rank, category, rule FROM allocations
            WHERE $1::text IS NULL OR run_id = $1 ORDER BY device_serial
            """, [run]).map { row in
            Row(serial: try row.string(0), school: try row.string(1), ref: try row.string(2), rank: try row.int(3),
                category: try row.string(4), rule: try row.string(5))
        }
    }

    private func withHarness(_ body: (IntegrationHarness) throws -> Void) throws {
        let harness = try IntegrationHarness(executable: "AllocationWorker")
        defer { harness.shutDown() }
        try body(harness)
        try harness.checkWorkers()
    }
}
