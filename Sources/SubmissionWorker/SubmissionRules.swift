import Foundation
import Shared

/// The contract's rules for submissions, as a pure function of the submission and its context.
enum SubmissionRules {
    /// How far `submitted_at` may run ahead of the receiving clock.
    static let allowedClockSkew: TimeInterval = 5 * 60

    enum Decision: Sendable, Equatable {
        case accepted(SubmissionStatus, summary: JSONValue)
        case rejected([FieldError])
    }

    /// Decides on one submission. Checks run from the general (campaign, school, account) to the particular
    /// (fields, serials); the first general failure is reported alone, field problems all together.
    static func decide(_ submission: Submission, in context: SubmissionContext) -> Decision {
        let header = submission.header
        guard let campaign = context.campaigns[header.campaign] else {
            return .rejected([FieldError(.unknownCampaign, field: "campaign", "no campaign with this name")])
        }
        guard campaign.kind == submission.type.campaignKind else {
            return .rejected([FieldError(.wrongCampaignKind, field: "campaign",
                                         "a \(submission.type.rawValue) belongs to a \(submission.type.campaignKind.rawValue) campaign, this one is \(campaign.kind.rawValue)")])
        }
        let schoolField = submission.type == .donationRecord ? "target_school_code" : "school_code"
        var school: SchoolRecord? = nil
        if let code = submission.schoolCode {
            guard let known = context.schools[code] else {
                return .rejected([FieldError(.unknownSchool, field: schoolField, "no school with this code")])
            }
            guard campaign.concerns(known) else {
                return .rejected([FieldError(.schoolNotInCampaign, field: schoolField,
                                             "the campaign does not concern this school's region or level")])
            }
            school = known
        }
        if let failure = checkAccount(submission, school: school, campaign: campaign) {
            return .rejected([failure])
        }
        if header.submittedAt.date < campaign.opensAt {
            return .rejected([FieldError(.campaignNotOpen, field: "submitted_at", "the campaign is not open yet")])
        }
        if header.submittedAt.date > context.now.addingTimeInterval(allowedClockSkew) {
            return .rejected([FieldError(.invalidField, field: "submitted_at", "is in the future")])
        }
        let status: SubmissionStatus = header.submittedAt.date > campaign.deadline ? .late : .onTime

        switch submission {
        case .equipmentInventory(let inventory):
            return decideInventory(inventory, school: school!, status: status, context: context)
        case .deviceNeedReport(let report):
            return decideNeeds(report, school: school!, status: status)
        case .donationRecord(let donation):
            return decideDonation(donation, status: status, context: context)
        case .handoverRecord(let handover):
            return decideHandover(handover, campaign: campaign, context: context)
        }
    }

    /// A school's submissions come from its official address; donations from the campaign's staff.
    private static func checkAccount(_ submission: Submission, school: SchoolRecord?,
                                     campaign: CampaignRecord) -> FieldError? {
        let sender = submission.header.submittedBy.lowercased()
        if submission.type == .donationRecord {
            guard campaign.staffEmails.contains(where: { $0.lowercased() == sender }) else {
                return FieldError(.notOfficialAccount, field: "submitted_by",
                                  "donations must come from one of the campaign's staff addresses")
            }
            return nil
        }
        guard let school, school.officialEmail.lowercased() == sender else {
            return FieldError(.notOfficialAccount, field: "submitted_by",
                              "must be the school's official e-mail address")
        }
        return nil
    }

    private static func decideInventory(_ inventory: EquipmentInventory, school: SchoolRecord,
                                        status: SubmissionStatus, context: SubmissionContext) -> Decision {
        if school.level == .primary, inventory.procedure == .inventory {
            return .rejected([FieldError(.procedureNotAllowed, field: "procedure",
                                         "a primary school may only insert equipment, not run the inventory procedure")])
        }
        var errors: [FieldError] = []
        if inventory.procedure == .insert {
            // `inventory` replaces the record, so only `insert` can clash with serials already stored.
            for (index, item) in inventory.items.enumerated() {
                for serial in item.serialNumbers ?? [] {
                    let key = SubmissionContext.SchoolSerial(campaign: inventory.header.campaign,
                                                              schoolCode: school.schoolCode, serial: serial)
                    if context.equipmentSerials.contains(key) {
                        errors.append(FieldError(.duplicateSerial, field: "items[\(index)].serial_numbers",
                                                 "a serial number is already recorded for this school"))
                        break
                    }
                }
            }
        }
        guard errors.isEmpty else { return .rejected(errors) }
        var byCategory: JSONObject = [:]
        for item in inventory.items {
            byCategory[item.category.rawValue] = .int((byCategory[item.category.rawValue]?.intValue ?? 0) + item.quantity)
        }
        return .accepted(status, summary: [
            "procedure": .string(inventory.procedure.rawValue),
            "items": .int(inventory.items.count),
            "units": .int(inventory.items.reduce(0) { $0 + $1.quantity }),
            "by_category": .object(byCategory),
            "counts_for_planning": .bool(status == .onTime),
        ])
    }

    private static func decideNeeds(_ report: DeviceNeedReport, school: SchoolRecord,
                                    status: SubmissionStatus) -> Decision {
        var errors: [FieldError] = []
        for (index, student) in report.students.enumerated() where !school.level.grades.contains(student.grade) {
            errors.append(FieldError(.invalidField, field: "students[\(index)].grade",
                                     "must be from \(school.level.grades.lowerBound) to \(school.level.grades.upperBound) in a \(school.level.rawValue) school"))
        }
        guard errors.isEmpty else { return .rejected(errors) }
        var byCategory: JSONObject = [:]
        for student in report.students {
            byCategory[student.category.rawValue] = .int((byCategory[student.category.rawValue]?.intValue ?? 0) + 1)
        }
        return .accepted(status, summary: [
            "students": .int(report.students.count),
            "by_category": .object(byCategory),
            "eligible_for_allocation": .bool(status == .onTime),
        ])
    }

    private static func decideDonation(_ donation: DonationRecord, status: SubmissionStatus,
                                       context: SubmissionContext) -> Decision {
        let key = SubmissionContext.DonationKey(campaign: donation.header.campaign, donationRef: donation.donationRef)
        if context.donations.contains(key) {
            return .rejected([FieldError(.duplicateDonation, field: "donation_ref",
                                         "a donation with this reference is already recorded in the campaign")])
        }
        var errors: [FieldError] = []
        for (index, device) in donation.devices.enumerated() where context.deviceCampaigns[device.serial] != nil {
            errors.append(FieldError(.duplicateSerial, field: "devices[\(index)].serial",
                                     "a device with this serial is already recorded"))
        }
        guard errors.isEmpty else { return .rejected(errors) }
        var byKind: JSONObject = [:]
        for device in donation.devices {
            byKind[device.kind.rawValue] = .int((byKind[device.kind.rawValue]?.intValue ?? 0) + 1)
        }
        return .accepted(status, summary: [
            "donation_ref": .string(donation.donationRef),
            "devices": .int(donation.devices.count),
            "by_kind": .object(byKind),
            "pool": .bool(donation.targetSchoolCode == nil),
        ])
    }

    private static func decideHandover(_ handover: HandoverRecord, campaign: CampaignRecord,
                                       context: SubmissionContext) -> Decision {
        let serial = handover.deviceSerial
        guard let deviceCampaign = context.deviceCampaigns[serial], deviceCampaign == campaign.campaign else {
            return .rejected([FieldError(.unknownDevice, field: "device_serial",
                                         "no donated device with this serial in the campaign")])
        }
        guard let allocation = context.allocations[serial],
              allocation.schoolCode == handover.header.schoolCode,
              allocation.studentRef == handover.studentRef else {
            return .rejected([FieldError(.notAllocatedToStudent, field: "student_ref",
                                         "the device is not allocated to this student of this school")])
        }
        if context.handedOver.contains(serial) {
            return .rejected([FieldError(.alreadyHandedOver, field: "device_serial",
                                         "a handover of this device is already recorded")])
        }
        let allowed = TimeInterval(campaign.handoverDays) * 86_400
        let late = handover.header.submittedAt.date > handover.handedOverAt.date.addingTimeInterval(allowed)
        return .accepted(late ? .late : .onTime, summary: [
            "device_serial": .string(serial),
            "student_ref": .string(handover.studentRef),
            "late": .bool(late),
        ])
    }
}
