import Foundation

extension Submission {
    /// Checks a submission's shape and context-free rules, reporting every problem found.
    public static func decode(type: SubmissionType, from object: JSONObject) -> Result<Submission, FieldErrors> {
        var reader = FieldReader()
        let campaign = reader.identifier(object, "campaign")
        let schoolCode = type == .donationRecord ? nil : reader.identifier(object, "school_code")
        let submittedBy = reader.email(object, "submitted_by")
        let submittedAt = reader.timestamp(object, "submitted_at")

        let submission: Submission?
        switch type {
        case .equipmentInventory:
            submission = decodeInventory(object, &reader, submittedAt: submittedAt).map { procedure, items in
                .equipmentInventory(EquipmentInventory(header: placeholderHeader, procedure: procedure, items: items))
            }
        case .deviceNeedReport:
            submission = decodeNeeds(object, &reader).map {
                .deviceNeedReport(DeviceNeedReport(header: placeholderHeader, students: $0))
            }
        case .donationRecord:
            submission = decodeDonation(object, &reader).map { .donationRecord($0) }
        case .handoverRecord:
            let serial = reader.identifier(object, "device_serial")
            let student = reader.identifier(object, "student_ref")
            let handedOverAt = reader.timestamp(object, "handed_over_at")
            if let serial, let student, let handedOverAt {
                if let submittedAt, handedOverAt.date > submittedAt.date.addingTimeInterval(300) {
                    reader.fail("handed_over_at", "must not be after submitted_at")
                }
                submission = .handoverRecord(HandoverRecord(header: placeholderHeader, deviceSerial: serial,
                                                            studentRef: student, handedOverAt: handedOverAt))
            } else {
                submission = nil
            }
        }
        guard reader.errors.isEmpty, var submission, let campaign, let submittedBy, let submittedAt else {
            return .failure(reader.failure)
        }
        submission.setHeader(SubmissionHeader(campaign: campaign, schoolCode: schoolCode,
                                              submittedBy: submittedBy, submittedAt: submittedAt))
        return .success(submission)
    }

    private static let placeholderHeader = SubmissionHeader(
        campaign: "", schoolCode: nil, submittedBy: "",
        submittedAt: ParsedTimestamp(date: Date(timeIntervalSince1970: 0), offsetSeconds: 0,
                                     localYear: 1970, localMonth: 1, localDay: 1))

    private mutating func setHeader(_ header: SubmissionHeader) {
        switch self {
        case .equipmentInventory(var message): message.header = header; self = .equipmentInventory(message)
        case .deviceNeedReport(var message): message.header = header; self = .deviceNeedReport(message)
        case .donationRecord(var message): message.header = header; self = .donationRecord(message)
        case .handoverRecord(var message): message.header = header; self = .handoverRecord(message)
        }
    }

    private static func decodeInventory(_ object: JSONObject, _ reader: inout FieldReader,
                                        submittedAt: ParsedTimestamp?) -> (InventoryProcedure, [EquipmentItem])? {
        let procedure = reader.choice(object, "procedure", as: InventoryProcedure.self)
        guard let elements = reader.array(object, "items", maxCount: MessageLimits.maximumItems,
                                          tooLargeCode: .tooLarge) else { return nil }
        if elements.isEmpty, procedure == .insert {
            reader.fail("items", "must list at least one item for procedure insert")
        }
        // The serial numbers of all items together, counted before any is read.
        let serialCount = elements.reduce(0) { total, element in
            guard case .object(let fields) = element, case .array(let serials)? = fields["serial_numbers"] else { return total }
            return total + serials.count
        }
        guard serialCount <= MessageLimits.maximumSerials else {
            reader.fail("items", "must list at most \(MessageLimits.maximumSerials) serial numbers in total",
                        code: .tooLarge)
            return nil
        }
        let latestYear = submittedAt?.localYear ?? Int.max
        var items: [EquipmentItem] = []
        items.reserveCapacity(elements.count)
        var serialsInMessage = Set<String>()
        for (index, element) in elements.enumerated() {
            let path = "items[\(index)]"
            guard let fields = reader.element(element, at: path) else { continue }
            let category = reader.choice(fields, "category", in: path, as: EquipmentCategory.self)
            let quantity = reader.integer(fields, "quantity", in: path, range: 1...10_000)
            let year = reader.integer(fields, "acquired_year", in: path, range: 1980...max(1980, min(latestYear, 9999)))
            let condition = reader.choice(fields, "condition", in: path, as: EquipmentCondition.self)
            let serials = reader.identifierArray(fields, "serial_numbers", in: path, required: false,
                                                 maxCount: MessageLimits.maximumSerials)
            if let serials, let quantity, serials.count != quantity {
                reader.fail("\(path).serial_numbers", "must have exactly quantity (\(quantity)) entries")
            }
            if let serials {
                for serial in serials where !serialsInMessage.insert(serial).inserted {
                    reader.fail("\(path).serial_numbers", "repeats a serial number of this submission",
                                code: .duplicateSerial)
                    break
                }
            }
            if let category, let quantity, let year, let condition {
                items.append(EquipmentItem(category: category, quantity: quantity, acquiredYear: year,
                                           condition: condition, serialNumbers: serials))
            }
        }
        guard let procedure else { return nil }
        return (procedure, items)
    }

    private static func decodeNeeds(_ object: JSONObject, _ reader: inout FieldReader) -> [ReportedStudent]? {
        guard let elements = reader.array(object, "students", maxCount: MessageLimits.maximumStudents,
                                          tooLargeCode: .tooLarge) else { return nil }
        var students: [ReportedStudent] = []
        students.reserveCapacity(elements.count)
        var refs = Set<String>()
        for (index, element) in elements.enumerated() {
            let path = "students[\(index)]"
            guard let fields = reader.element(element, at: path) else { continue }
            let ref = reader.identifier(fields, "student_ref", in: path)
            let name = reader.string(fields, "full_name", in: path)
            let grade = reader.integer(fields, "grade", in: path, range: 1...12)
            let category = reader.choice(fields, "category", in: path, as: StudentCategory.self)
            if let ref, !refs.insert(ref).inserted {
                reader.fail("\(path).student_ref", "appears twice in this report")
            }
            if let ref, let name, let grade, let category {
                students.append(ReportedStudent(studentRef: ref, fullName: name, grade: grade, category: category))
            }
        }
        return students
    }

    private static func decodeDonation(_ object: JSONObject, _ reader: inout FieldReader) -> DonationRecord? {
        let ref = reader.identifier(object, "donation_ref")
        let channel = reader.choice(object, "channel", as: DonationChannel.self)
        let donor = reader.object(object, "donor")
        let donorName = donor.flatMap { reader.string($0, "name", in: "donor") }
        let donorKind = donor.flatMap { reader.choice($0, "kind", in: "donor", as: DonorKind.self) }
        let target = reader.identifier(object, "target_school_code", required: false)
        var devices: [DonatedDevice] = []
        if let elements = reader.array(object, "devices", maxCount: MessageLimits.maximumDevices, tooLargeCode: .tooLarge) {
            if elements.isEmpty { reader.fail("devices", "must list at least one device") }
            var serials = Set<String>()
            for (index, element) in elements.enumerated() {
                let path = "devices[\(index)]"
                guard let fields = reader.element(element, at: path) else { continue }
                let serial = reader.identifier(fields, "serial", in: path)
                let kind = reader.choice(fields, "kind", in: path, as: DeviceKind.self)
                let specs = reader.string(fields, "specs", in: path, required: false, maxLength: 500)
                if let serial, !serials.insert(serial).inserted {
                    reader.fail("\(path).serial", "appears twice in this donation", code: .duplicateSerial)
                }
                if let serial, let kind {
                    devices.append(DonatedDevice(serial: serial, kind: kind, specs: specs))
                }
            }
        }
        guard let ref, let channel, let donorName, let donorKind else { return nil }
        return DonationRecord(header: placeholderHeader, donationRef: ref, channel: channel, donorName: donorName,
                              donorKind: donorKind, targetSchoolCode: target, devices: devices)
    }
}
