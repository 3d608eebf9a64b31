import Foundation
import Shared

/// A reproducible demo load: a Greek inventory campaign (hundreds of schools, a deadline extension, late
/// and rejected submissions) and a Vietnamese device-support campaign (dozens of schools, thousands of
/// students, donations, handovers). All names are invented.
struct DemoData {
    /// Reproducible choices (the same on every machine).
    struct Random {
        var generator: SplitMix64
        mutating func next() -> UInt64 { generator.next() }
        mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func chance(_ p: Double) -> Bool { Double(next() % 10_000) / 10_000 < p }
        mutating func pick<T>(_ items: [T]) -> T { items[int(0..<items.count)] }
    }

    struct School {
        var code: String
        var name: String
        var level: SchoolLevel
        var region: String
        var email: String
        var language: Language
        var students: Int
    }

    static let greekCampaign = "gr-ict-2022"
    static let vietnamCampaign = "vn-song-2021"
    static let greekStaff = ["ict-planning@minedu.gov.gr", "tpe@attica.pde.sch.gr"]
    static let vietnamStaff = ["office@tdm.edu.vn", "cntt@sgddt.binhduong.gov.vn"]

    var random = Random(generator: SplitMix64(seed: 20_220_110))
    static let greekRegions = ["Attica", "Central Macedonia", "Crete", "Thessaly", "Western Greece", "Epirus", "South Aegean"]
    static let vietnamWards = ["Phú Cường", "Hiệp Thành", "Phú Lợi", "Phú Hòa", "Chánh Nghĩa", "Định Hòa", "Hòa Phú", "Tân An"]
    var greekSchools: [School] = []
    var vietnamSchools: [School] = []

    init(greekSchools greekCount: Int = 320, vietnamSchools vietnamCount: Int = 48) {
        let regions = Self.greekRegions
        let towns = ["Αθηνών", "Πειραιά", "Θεσσαλονίκης", "Ηρακλείου", "Λάρισας", "Πάτρας", "Ιωαννίνων", "Ρόδου",
                     "Χανίων", "Βόλου", "Καλαμάτας", "Σερρών"]
        for index in 0..<greekCount {
            let level: SchoolLevel = index % 5 < 3 ? .primary : (index % 5 == 3 ? .lowerSecondary : .secondary)
            let kind = switch level {
            case .primary: "Δημοτικό Σχολείο"
            case .lowerSecondary: "Γυμνάσιο"
            case .secondary: "Γενικό Λύκειο"
            }
            let code = String(format: "05%05d", 51_000 + index)
            greekSchools.append(School(
                code: code, name: "\(index % 9 + 1)ο \(kind) \(towns[index % towns.count])", level: level,
                region: regions[index % regions.count], email: "mail@\(code).sch.gr", language: .greek,
                students: 80 + random.int(0..<420)))
        }
        let wards = Self.vietnamWards
        for index in 0..<vietnamCount {
            let level: SchoolLevel = index % 3 == 2 ? .lowerSecondary : .primary
            let prefix = level == .primary ? "TH" : "THCS"
            let code = String(format: "TDM-%@-%02d", prefix, index + 1)
            let ward = wards[index % wards.count]
            vietnamSchools.append(School(
                code: code, name: "Trường \(level == .primary ? "Tiểu học" : "THCS") \(ward) \(index / wards.count + 1)",
                level: level, region: "Phường \(ward)", email: "\(code.lowercased())@tdm.edu.vn",
                language: .vietnamese, students: 400 + random.int(0..<900)))
        }
    }

    // MARK: Registry

    func schoolCommands() -> [JSONValue] {
        (greekSchools + vietnamSchools).map { school in
            [
                "school_code": .string(school.code), "name": .string(school.name), "level": .string(school.level.rawValue),
                "region": .string(school.region), "official_email": .string(school.email),
                "language": .string(school.language.rawValue), "students": .int(school.students),
            ]
        }
    }

    /// The Greek campaign as first announced (deadline Friday 21 January 2022), or as extended (Monday 31).
    func greekCampaign(extended: Bool) -> JSONValue {
        [
            "campaign": .string(Self.greekCampaign), "kind": "equipment_inventory",
            "title": "Κτηματολόγιο υποδομών Τ.Π.Ε. των σχολείων 2022",
            "opens_at": "2022-01-10T08:00:00+02:00",
            "deadline": .string(extended ? "2022-01-31T23:59:59+02:00" : "2022-01-21T23:59:59+02:00"),
            "timezone": "Europe/Athens", "staff_emails": .array(Self.greekStaff.map { .string($0) }),
            "reminder_days": [7, 3, 1],
            // One deployment serves both ministries here: each campaign names the regions it concerns.
            "regions": .array(Self.greekRegions.map { .string($0) }),
        ]
    }

    func vietnamCampaign() -> JSONValue {
        [
            "campaign": .string(Self.vietnamCampaign), "kind": "device_support",
            "title": "Sóng và máy tính cho em — Thủ Dầu Một",
            "opens_at": "2021-11-17T07:00:00+07:00", "deadline": "2021-11-19T23:59:59+07:00",
            "timezone": "Asia/Ho_Chi_Minh", "staff_emails": .array(Self.vietnamStaff.map { .string($0) }),
            "reminder_days": [2, 1], "handover_days": 1,
            "priority": ["covid_orphan", "poor_household", "near_poor_household", "other_hardship"],
            "regions": .array(Self.vietnamWards.map { .string("Phường \($0)") }),
            "levels": ["primary", "lower_secondary"],
        ]
    }

    // MARK: Greek submissions

    enum GreekPhase { case beforeExtension, afterExtension }

    /// Inventories: most on time, some after the first deadline (late until the extension), some never.
    mutating func greekInventories(_ phase: GreekPhase) -> [(id: String, body: JSONValue)] {
        var result: [(String, JSONValue)] = []
        for (index, school) in greekSchools.enumerated() {
            let bucket = index % 20
            // 0–13 on time before 21 Jan; 14–15 late before the extension; 16–17 after the extension; 18–19 never.
            let day: Int
            switch (phase, bucket) {
            case (.beforeExtension, 0...13): day = 11 + bucket % 10
            case (.beforeExtension, 14...15): day = 24 + bucket % 3
            case (.afterExtension, 16...17): day = 25 + bucket % 4
            default: continue
            }
            var sender = school.email
            if index == 7 { sender = "principal.personal@gmail.com" }  // not the official account
            var procedure = school.level == .primary ? "insert" : "inventory"
            if index == 5 { procedure = "inventory" }  // a primary school attempting the full inventory
            var items: [JSONValue] = []
            for (category, range) in [("desktop", 3..<25), ("laptop", 0..<12), ("projector", 0..<5),
                                      ("interactive_whiteboard", 0..<4), ("printer", 1..<4), ("network_device", 1..<6)] {
                let quantity = random.int(range)
                guard quantity > 0 else { continue }
                let condition = random.chance(0.15) ? "faulty" : (random.chance(0.1) ? "obsolete" : "working")
                var item: JSONObject = [
                    "category": .string(category), "quantity": .int(quantity),
                    "acquired_year": .int(2008 + random.int(0..<14)), "condition": .string(condition),
                ]
                if category == "projector" {
                    item["serial_numbers"] = .array((0..<quantity).map { .string("PJ-\(school.code)-\($0)") })
                }
                items.append(.object(item))
            }
            if index == 11 { items.append(["category": "desktop", "quantity": 0, "acquired_year": 2015, "condition": "working"]) }
            let body: JSONValue = [
                "campaign": .string(Self.greekCampaign), "school_code": .string(school.code),
                "submitted_by": .string(sender),
                "submitted_at": .string(String(format: "2022-01-%02dT%02d:%02d:00+02:00", day, 8 + index % 9, index % 60)),
                "procedure": .string(procedure), "items": .array(items),
            ]
            result.append(("demo-gr-inv-\(school.code)", body))
        }
        return result
    }

    // MARK: Vietnamese submissions

    private static let family = ["Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ"]
    private static let middle = ["Văn", "Thị", "Minh", "Ngọc", "Gia", "Thanh", "Hoài", "Quốc", "Bảo", "Khánh"]
    private static let given = ["An", "Bình", "Châu", "Dũng", "Giang", "Hà", "Hải", "Hạnh", "Khoa", "Lan", "Linh",
                                "Long", "Mai", "Nam", "Ngân", "Phúc", "Quân", "Sơn", "Tâm", "Thảo", "Trang", "Tú", "Vy"]

    /// Needs reports: thousands of students across the four categories; a few reports late, one school
    /// reporting nobody, one report corrected later (the newest submitted_at wins).
    mutating func needsReports() -> [(id: String, body: JSONValue)] {
        var result: [(String, JSONValue)] = []
        for (index, school) in vietnamSchools.enumerated() {
            let count = index == 4 ? 0 : 40 + random.int(0..<70)
            let grades = school.level.grades
            var students: [JSONValue] = []
            for number in 0..<count {
                let roll = random.int(0..<100)
                let category = roll < 6 ? "covid_orphan" : roll < 40 ? "poor_household" : roll < 70 ? "near_poor_household" : "other_hardship"
                students.append([
                    "student_ref": .string(String(format: "HS-%@-%04d", school.code, number + 1)),
                    "full_name": .string("\(random.pick(Self.family)) \(random.pick(Self.middle)) \(random.pick(Self.given))"),
                    "grade": .int(grades.lowerBound + random.int(0..<grades.count)),
                    "category": .string(category),
                ])
            }
            let late = index % 12 == 7
            let body: JSONValue = [
                "campaign": .string(Self.vietnamCampaign), "school_code": .string(school.code),
                "submitted_by": .string(school.email),
                "submitted_at": .string(late ? "2021-11-21T09:00:00+07:00" : String(format: "2021-11-%02dT%02d:15:00+07:00", 17 + index % 3, 8 + index % 8)),
                "students": .array(students),
            ]
            result.append(("demo-vn-needs-\(school.code)", body))
        }
        return result
    }

    /// Donations: the ministry programme's pool, and other donors giving to named schools.
    mutating func donations() -> [(id: String, body: JSONValue)] {
        var result: [(String, JSONValue)] = []
        var serial = 0
        func devices(_ count: Int, _ kind: String, _ specs: String) -> JSONValue {
            .array((0..<count).map { _ in
                serial += 1
                return ["serial": .string(String(format: "%@-%06d", kind == "tablet" ? "TB" : "LT", serial)),
                        "kind": .string(kind), "specs": .string(specs)]
            })
        }
        let donors: [(String, String, String, Int, String, String)] = [
            ("DN-2021-0001", "ministry", "Bộ Giáo dục và Đào tạo", 420, "laptop", "i3, 8GB, 256GB SSD"),
            ("DN-2021-0002", "ministry", "Viettel", 300, "tablet", "10 inch, 4G"),
            ("DN-2021-0003", "other", "Công ty ABC", 60, "laptop", "i5, 8GB, 512GB SSD"),
            ("DN-2021-0004", "other", "Hội Khuyến học", 45, "tablet", "8 inch, Wi-Fi"),
            ("DN-2021-0005", "other", "Ông Trần Văn Bình", 12, "laptop", "Ryzen 3, 8GB"),
        ]
        for (index, donor) in donors.enumerated() {
            var body: JSONObject = [
                "campaign": .string(Self.vietnamCampaign), "donation_ref": .string(donor.0),
                "submitted_by": .string(Self.vietnamStaff[0]),
                "submitted_at": .string(String(format: "2021-11-%02dT08:00:00+07:00", 22 + index)),
                "channel": .string(donor.1),
                "donor": ["name": .string(donor.2), "kind": .string(index == 0 ? "government" : index == 4 ? "individual" : index == 3 ? "organisation" : "company")],
                "devices": devices(donor.3, donor.4, donor.5),
            ]
            if donor.1 == "other" { body["target_school_code"] = .string(vietnamSchools[(index * 5) % vietnamSchools.count].code) }
            result.append(("demo-vn-donation-\(donor.0)", .object(body)))
        }
        return result
    }

    /// Donations that break the rules, sent after the others have been recorded.
    func invalidDonations() -> [(id: String, body: JSONValue)] {
        var result: [(String, JSONValue)] = []
        // A donation repeating a serial already given: rejected with duplicate_serial.
        result.append(("demo-vn-donation-DN-2021-0099", [
            "campaign": .string(Self.vietnamCampaign), "donation_ref": "DN-2021-0099",
            "submitted_by": .string(Self.vietnamStaff[0]), "submitted_at": "2021-11-28T08:00:00+07:00",
            "channel": "other", "donor": ["name": "Công ty XYZ", "kind": "company"],
            "devices": [["serial": "LT-000001", "kind": "laptop"]],
        ]))
        // A donation from a school's own address instead of the campaign staff: not_official_account.
        result.append(("demo-vn-donation-DN-2021-0100", [
            "campaign": .string(Self.vietnamCampaign), "donation_ref": "DN-2021-0100",
            "submitted_by": .string(vietnamSchools[0].email), "submitted_at": "2021-11-28T09:00:00+07:00",
            "channel": "other", "donor": ["name": "Phụ huynh", "kind": "individual"],
            "devices": [["serial": "LT-900001", "kind": "laptop"]],
        ]))
        return result
    }
}
