import Shared

/// The contract's example messages (`docs/asyncapi.yaml`), copied verbatim, and a way to edit them by field path: the
/// fixtures of the decoding tests and of the submission rules' tests.
public enum ContractExamples {
    public static let equipmentInventory = """
        {"campaign": "gr-ict-2022", "school_code": "0551010", "submitted_by": "mail@0551010.sch.gr",
         "submitted_at": "2022-01-14T09:30:00+02:00", "procedure": "insert",
         "items": [{"category": "desktop", "quantity": 12, "acquired_year": 2015, "condition": "working"},
                   {"category": "projector", "quantity": 1, "acquired_year": 2019, "condition": "faulty",
                    "serial_numbers": ["PJ-77"]}]}
        """

    public static let deviceNeedReport = """
        {"campaign": "vn-song-2021", "school_code": "TDM-TH-01", "submitted_by": "th01@tdm.edu.vn",
         "submitted_at": "2021-11-18T10:00:00+07:00",
         "students": [{"student_ref": "HS-0001", "full_name": "Nguyễn Văn An", "grade": 4,
                       "category": "covid_orphan"}]}
        """

    public static let donationRecord = """
        {"campaign": "vn-song-2021", "donation_ref": "DN-2021-0042", "submitted_by": "office@tdm.edu.vn",
         "submitted_at": "2021-11-22T08:00:00+07:00", "channel": "other",
         "donor": {"name": "Công ty ABC", "kind": "company"}, "target_school_code": "TDM-TH-01",
         "devices": [{"serial": "LT-000123", "kind": "laptop", "specs": "i3, 8GB, 256GB SSD"}]}
        """

    public static let handoverRecord = """
        {"campaign": "vn-song-2021", "school_code": "TDM-TH-01", "submitted_by": "th01@tdm.edu.vn",
         "submitted_at": "2021-11-26T16:00:00+07:00", "device_serial": "LT-000123",
         "student_ref": "HS-0001", "handed_over_at": "2021-11-25T09:00:00+07:00"}
        """

    public static let schoolUpsert = """
        {"school_code": "0551010", "name": "1ο Δημοτικό Σχολείο Αθηνών", "level": "primary", "region": "Αττική",
         "official_email": "mail@0551010.sch.gr", "language": "el", "students": 240}
        """

    public static let campaignUpsert = """
        {"campaign": "vn-song-2021", "kind": "device_support", "title": "Sóng và máy tính cho em",
         "opens_at": "2021-11-17T00:00:00+07:00", "deadline": "2021-11-19T23:59:59+07:00",
         "timezone": "Asia/Ho_Chi_Minh", "staff_emails": ["Office@TDM.edu.vn"], "reminder_days": [7, 3, 1],
         "handover_days": 1, "priority": ["covid_orphan", "poor_household", "near_poor_household",
         "other_hardship"], "regions": ["Bình Dương"], "levels": ["primary", "lower_secondary"]}
        """

    public static let allocationRun = #"{"campaign": "vn-song-2021", "region": "Bình Dương", "school_code": "TDM-TH-01"}"#
    public static let studentErase = #"{"campaign": "vn-song-2021", "school_code": "TDM-TH-01", "student_ref": "HS-0001"}"#
    public static let procurementPlan = #"{"campaign": "gr-ict-2022", "target_students_per_computer": 10}"#

    public static func example(_ type: SubmissionType) -> String {
        switch type {
        case .equipmentInventory: equipmentInventory
        case .deviceNeedReport: deviceNeedReport
        case .donationRecord: donationRecord
        case .handoverRecord: handoverRecord
        }
    }

    public static func example(_ key: CommandKey) -> String {
        switch key {
        case .schoolUpsert: schoolUpsert
        case .campaignUpsert: campaignUpsert
        case .allocationRun: allocationRun
        case .procurementPlan: procurementPlan
        case .studentErase: studentErase
        }
    }

    /// Sets (or, with `nil`, removes) the value at a path such as `items[1].quantity` or `donor.kind`.
    public struct Edit: Sendable, CustomStringConvertible {
        public var path: String
        public var value: JSONValue?
        public init(_ path: String, _ value: JSONValue?) {
            self.path = path
            self.value = value
        }
        public var description: String { "\(path)=\(value?.jsonString ?? "<removed>")" }
    }

    private enum Step { case key(String), index(Int) }

    private static func steps(_ path: String) -> [Step] {
        var result: [Step] = []
        for part in path.split(separator: ".") {
            var name = Substring(part)
            var indices: [Int] = []
            while name.hasSuffix("]"), let open = name.lastIndex(of: "[") {
                indices.insert(Int(name[name.index(after: open)..<name.index(before: name.endIndex)])!, at: 0)
                name = name[..<open]
            }
            if !name.isEmpty { result.append(.key(String(name))) }
            result += indices.map { .index($0) }
        }
        return result
    }

    private static func apply(_ value: JSONValue, _ steps: ArraySlice<Step>, _ new: JSONValue?) -> JSONValue {
        guard let step = steps.first else { return new ?? .null }
        switch (step, value) {
        case (.key(let key), .object(var fields)):
            if steps.count == 1, new == nil {
                fields[key] = nil
            } else {
                fields[key] = apply(fields[key] ?? .null, steps.dropFirst(), new)
            }
            return .object(fields)
        case (.index(let index), .array(var elements)):
            if index == elements.count { elements.append(.null) }  // setting one past the end appends
            if steps.count == 1, new == nil {
                elements.remove(at: index)
            } else {
                elements[index] = apply(elements[index], steps.dropFirst(), new)
            }
            return .array(elements)
        default:
            preconditionFailure("path does not fit the value")
        }
    }

    public static func object(_ text: String, _ edits: [Edit] = []) -> JSONObject {
        var value = try! JSONParser.parse(Array(text.utf8))
        for edit in edits {
            value = apply(value, steps(edit.path)[...], edit.value)
        }
        guard case .object(let fields) = value else { preconditionFailure("not an object") }
        return fields
    }

    public static func body(_ text: String, _ edits: [Edit] = []) -> [UInt8] {
        JSONValue.object(object(text, edits)).serialized()
    }
}
