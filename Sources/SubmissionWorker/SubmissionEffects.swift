import Foundation
import Shared

/// The database changes of one segment of a batch, gathered so that they are written with a few
/// set-based statements instead of one statement per message.
struct SubmissionEffects {
    struct SubmissionRow {
        var messageID: String
        var type: SubmissionType
        var campaign: String
        var schoolCode: String?
        var submittedBy: String
        var submittedAt: Date
        var status: SubmissionStatus
        var procedure: String?
        var receipt: Receipt
        var backdated: Bool
    }

    /// Who published a submission and when it was first received (the school clock), with the campaign's
    /// `max_submission_lag`: `submitted_at` is authoritative (the contract), these show backdating.
    struct Receipt {
        var publishedBy: String?
        var receivedAt: Date
        var maximumLag: TimeInterval

        /// Seconds by which `submitted_at` precedes the receipt (negative: a little in the future, within skew).
        func lag(of submission: Submission) -> TimeInterval {
            receivedAt.timeIntervalSince(submission.header.submittedAt.date)
        }
    }

    struct ItemRow {
        var submissionID: String
        var lineNo: Int
        var campaign: String
        var schoolCode: String
        var item: EquipmentItem
    }

    struct SchoolKey: Hashable {
        var campaign: String
        var schoolCode: String
    }

    struct StudentRow {
        var campaign: String
        var schoolCode: String
        var student: ReportedStudent
        var reportedAt: Date
        var submissionID: String
        var firstOnTimeAt: Date?

        /// The contract: the newest `submitted_at` wins, whatever the delivery order (message id breaks ties).
        func isNewer(than other: StudentRow) -> Bool {
            (reportedAt, submissionID) > (other.reportedAt, other.submissionID)
        }
    }

    struct StudentKey: Hashable {
        var campaign: String
        var schoolCode: String
        var studentRef: String
    }

    struct HandoverRow {
        var serial: String
        var campaign: String
        var schoolCode: String
        var studentRef: String
        var handedOverAt: Date
        var recordedAt: Date
        var late: Bool
        var submissionID: String
    }

    var submissions: [SubmissionRow] = []
    /// Schools whose equipment record an `inventory` replaces, before `items` are inserted.
    var replacedRecords: Set<SchoolKey> = []
    var items: [SchoolKey: [ItemRow]] = [:]
    var students: [StudentKey: StudentRow] = [:]
    var donations: [(DonationRecord, submissionID: String)] = []
    var handovers: [HandoverRow] = []

    var isEmpty: Bool { submissions.isEmpty }

    /// Records the effect of an accepted submission, and keeps `context` current for the next messages.
    /// Adds an accepted submission's effects; without a receipt it counts as received when it says it was submitted.
    mutating func add(_ submission: Submission, id: String, status: SubmissionStatus, receipt: Receipt? = nil,
                      context: inout SubmissionContext) {
        let receipt = receipt ?? Receipt(publishedBy: nil, receivedAt: submission.header.submittedAt.date,
                                         maximumLag: context.maximumLag(of: submission))
        let header = submission.header
        var procedure: String? = nil
        switch submission {
        case .equipmentInventory(let inventory):
            procedure = inventory.procedure.rawValue
            let schoolCode = header.schoolCode!
            let key = SchoolKey(campaign: header.campaign, schoolCode: schoolCode)
            if inventory.procedure == .inventory {
                replacedRecords.insert(key)
                items[key] = []
                context.equipmentSerials = context.equipmentSerials.filter {
                    !($0.campaign == key.campaign && $0.schoolCode == key.schoolCode)
                }
            }
            for (line, item) in inventory.items.enumerated() {
                items[key, default: []].append(ItemRow(submissionID: id, lineNo: line, campaign: header.campaign,
                                                       schoolCode: schoolCode, item: item))
                for serial in item.serialNumbers ?? [] {
                    context.equipmentSerials.insert(.init(campaign: header.campaign, schoolCode: schoolCode, serial: serial))
                }
            }
        case .deviceNeedReport(let report):
            for student in report.students {
                let row = StudentRow(campaign: header.campaign, schoolCode: header.schoolCode!, student: student,
                                     reportedAt: header.submittedAt.date, submissionID: id,
                                     firstOnTimeAt: status == .onTime ? header.submittedAt.date : nil)
                let key = StudentKey(campaign: header.campaign, schoolCode: header.schoolCode!, studentRef: student.studentRef)
                if let existing = students[key] {
                    var merged = row.isNewer(than: existing) ? row : existing
                    merged.firstOnTimeAt = [existing.firstOnTimeAt, row.firstOnTimeAt].compactMap { $0 }.min()
                    students[key] = merged
                } else {
                    students[key] = row
                }
            }
        case .donationRecord(let donation):
            donations.append((donation, id))
            context.donations.insert(.init(campaign: header.campaign, donationRef: donation.donationRef))
            for device in donation.devices {
                context.deviceCampaigns[device.serial] = header.campaign
            }
        case .handoverRecord(let handover):
            handovers.append(HandoverRow(serial: handover.deviceSerial, campaign: header.campaign,
                                         schoolCode: header.schoolCode!, studentRef: handover.studentRef,
                                         handedOverAt: handover.handedOverAt.date, recordedAt: header.submittedAt.date,
                                         late: status == .late, submissionID: id))
            context.handedOver.insert(handover.deviceSerial)
        }
        submissions.append(SubmissionRow(messageID: id, type: submission.type, campaign: header.campaign,
                                         schoolCode: submission.schoolCode, submittedBy: header.submittedBy,
                                         submittedAt: header.submittedAt.date, status: status, procedure: procedure,
                                         receipt: receipt, backdated: receipt.lag(of: submission) > receipt.maximumLag))
    }
}
