import Foundation
import Shared

// What each kind of e-mail lists, fixed when the e-mail is planned and stored as `notifications.payload`.
// School codes and names, counts, device serials and student refs: never a student's name.

/// A school as a digest lists it.
struct SchoolRef: Sendable, Equatable {
    var code: String
    var name: String
}

/// The schools of one region in a digest: `count` is complete, `schools` may be cut short.
struct RegionSchools: Sendable, Equatable {
    var region: String
    var count: Int
    var schools: [SchoolRef]
}

/// One region of a final digest.
struct RegionOutcome: Sendable, Equatable {
    var region: String
    var onTime: Int
    var late: RegionSchools
    var missing: RegionSchools
}

struct DeadlineReminderPayload: Sendable, Equatable {
    var school: SchoolRef
    var level: SchoolLevel
    var officialEmail: String
    var daysBefore: Int
    /// The deadline this one replaced, when the campaign was extended.
    var previousDeadline: Date?
}

struct StaffDigestPayload: Sendable, Equatable {
    var daysBefore: Int
    var schoolsInScope: Int
    /// Schools without an on-time submission, by region.
    var missing: [RegionSchools]
    var previousDeadline: Date?

    var missingCount: Int { missing.reduce(0) { $0 + $1.count } }
}

struct FinalDigestPayload: Sendable, Equatable {
    var schoolsInScope: Int
    var regions: [RegionOutcome]
}

struct AllocationNoticePayload: Sendable, Equatable {
    struct Item: Sendable, Equatable {
        var studentRef: String
        var deviceSerial: String
    }

    var school: SchoolRef
    var runID: String
    var handoverDays: Int
    var handoverDueAt: Date
    var allocations: [Item]
}

struct AllocationSummaryPayload: Sendable, Equatable {
    struct School: Sendable, Equatable {
        var code: String
        var devices: Int
    }

    var runID: String
    var allocated: Int
    var waiting: Int
    var schools: [School]
}

struct HandoverReminderPayload: Sendable, Equatable {
    struct Device: Sendable, Equatable {
        var serial: String
        var studentRef: String
        var dueAt: Date
    }

    var school: SchoolRef
    var handoverDays: Int
    var devices: [Device]
}

/// A payload read back from the database that does not have the expected shape.
struct PayloadError: Error, CustomStringConvertible {
    var field: String
    var description: String { "notification payload: missing or invalid \(field)" }
}

// MARK: JSON

extension SchoolRef {
    var json: JSONValue { ["code": .string(code), "name": .string(name)] }
    init(json: JSONValue?) throws(PayloadError) {
        code = try json.string("code")
        name = try json.string("name")
    }
}

extension RegionSchools {
    var json: JSONValue {
        ["region": .string(region), "count": .int(count), "schools": .array(schools.map(\.json))]
    }
    init(json: JSONValue?) throws(PayloadError) {
        region = try json.string("region")
        count = try json.int("count")
        schools = try json.array("schools").map { element throws(PayloadError) in try SchoolRef(json: element) }
    }
}

extension RegionOutcome {
    var json: JSONValue {
        ["region": .string(region), "on_time": .int(onTime), "late": late.json, "missing": missing.json]
    }
    init(json: JSONValue?) throws(PayloadError) {
        region = try json.string("region")
        onTime = try json.int("on_time")
        late = try RegionSchools(json: json?["late"])
        missing = try RegionSchools(json: json?["missing"])
    }
}

extension DeadlineReminderPayload {
    var json: JSONValue {
        ["school": school.json, "level": .string(level.rawValue), "official_email": .string(officialEmail),
         "days_before": .int(daysBefore), "previous_deadline": .optional(previousDeadline.map(ISO8601Text.utc))]
    }
    init(json: JSONValue) throws(PayloadError) {
        school = try SchoolRef(json: json["school"])
        guard let level = SchoolLevel(rawValue: try json.string("level")) else { throw PayloadError(field: "level") }
        self.level = level
        officialEmail = try json.string("official_email")
        daysBefore = try json.int("days_before")
        previousDeadline = try json.optionalDate("previous_deadline")
    }
}

extension StaffDigestPayload {
    var json: JSONValue {
        ["days_before": .int(daysBefore), "schools_in_scope": .int(schoolsInScope),
         "missing": .array(missing.map(\.json)),
         "previous_deadline": .optional(previousDeadline.map(ISO8601Text.utc))]
    }
    init(json: JSONValue) throws(PayloadError) {
        daysBefore = try json.int("days_before")
        schoolsInScope = try json.int("schools_in_scope")
        missing = try json.array("missing").map { element throws(PayloadError) in try RegionSchools(json: element) }
        previousDeadline = try json.optionalDate("previous_deadline")
    }
}

extension FinalDigestPayload {
    var json: JSONValue {
        ["schools_in_scope": .int(schoolsInScope), "regions": .array(regions.map(\.json))]
    }
    init(json: JSONValue) throws(PayloadError) {
        schoolsInScope = try json.int("schools_in_scope")
        regions = try json.array("regions").map { element throws(PayloadError) in try RegionOutcome(json: element) }
    }
}

extension AllocationNoticePayload {
    var json: JSONValue {
        ["school": school.json, "run_id": .string(runID), "handover_days": .int(handoverDays),
         "handover_due_at": .string(ISO8601Text.utc(handoverDueAt)),
         "allocations": .array(allocations.map { ["student_ref": .string($0.studentRef), "device_serial": .string($0.deviceSerial)] })]
    }
    init(json: JSONValue) throws(PayloadError) {
        school = try SchoolRef(json: json["school"])
        runID = try json.string("run_id")
        handoverDays = try json.int("handover_days")
        guard let due = try json.optionalDate("handover_due_at") else { throw PayloadError(field: "handover_due_at") }
        handoverDueAt = due
        allocations = try json.array("allocations").map { element throws(PayloadError) in
            Item(studentRef: try element.string("student_ref"), deviceSerial: try element.string("device_serial"))
        }
    }
}

extension AllocationSummaryPayload {
    var json: JSONValue {
        ["run_id": .string(runID), "allocated": .int(allocated), "waiting": .int(waiting),
         "schools": .array(schools.map { ["school_code": .string($0.code), "devices": .int($0.devices)] })]
    }
    init(json: JSONValue) throws(PayloadError) {
        runID = try json.string("run_id")
        allocated = try json.int("allocated")
        waiting = try json.int("waiting")
        schools = try json.array("schools").map { element throws(PayloadError) in
            School(code: try element.string("school_code"), devices: try element.int("devices"))
        }
    }
}

extension HandoverReminderPayload {
    var json: JSONValue {
        ["school": school.json, "handover_days": .int(handoverDays),
         "devices": .array(devices.map {
             ["device_serial": .string($0.serial), "student_ref": .string($0.studentRef),
              "due_at": .string(ISO8601Text.utc($0.dueAt))]
         })]
    }
    init(json: JSONValue) throws(PayloadError) {
        school = try SchoolRef(json: json["school"])
        handoverDays = try json.int("handover_days")
        devices = try json.array("devices").map { element throws(PayloadError) in
            guard let due = try element.optionalDate("due_at") else { throw PayloadError(field: "due_at") }
            return Device(serial: try element.string("device_serial"), studentRef: try element.string("student_ref"),
                          dueAt: due)
        }
    }
}

extension Optional where Wrapped == JSONValue {
    func string(_ key: String) throws(PayloadError) -> String {
        guard let value = self?[key]?.stringValue else { throw PayloadError(field: key) }
        return value
    }

    func int(_ key: String) throws(PayloadError) -> Int {
        guard let value = self?[key]?.intValue else { throw PayloadError(field: key) }
        return value
    }

    func array(_ key: String) throws(PayloadError) -> [JSONValue] {
        guard let value = self?[key]?.arrayValue else { throw PayloadError(field: key) }
        return value
    }

    func optionalDate(_ key: String) throws(PayloadError) -> Date? {
        guard let value = self?[key], value != .null else { return nil }
        guard let text = value.stringValue, let parsed = ISO8601.parse(text) else { throw PayloadError(field: key) }
        return parsed.date
    }
}

extension JSONValue {
    func string(_ key: String) throws(PayloadError) -> String { try Optional(self).string(key) }
    func int(_ key: String) throws(PayloadError) -> Int { try Optional(self).int(key) }
    func array(_ key: String) throws(PayloadError) -> [JSONValue] { try Optional(self).array(key) }
    func optionalDate(_ key: String) throws(PayloadError) -> Date? { try Optional(self).optionalDate(key) }
}
