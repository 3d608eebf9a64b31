import Foundation
import Shared

/// What the rules need to know about the world, loaded for one batch and kept current as the batch's
/// own accepted submissions take effect (so two messages in one batch see each other).
struct SubmissionContext: Sendable {
    struct SchoolSerial: Hashable, Sendable {
        var campaign: String
        var schoolCode: String
        var serial: String
    }

    struct DonationKey: Hashable, Sendable {
        var campaign: String
        var donationRef: String
    }

    struct Allocation: Sendable, Equatable {
        var campaign: String
        var schoolCode: String
        var studentRef: String
    }

    var now: Date
    var schools: [String: SchoolRecord] = [:]
    var campaigns: [String: CampaignRecord] = [:]
    /// Equipment serials already recorded per campaign and school.
    var equipmentSerials: Set<SchoolSerial> = []
    /// Donated device serials already recorded (unique across all donations), with their campaign.
    var deviceCampaigns: [String: String] = [:]
    var donations: Set<DonationKey> = []
    /// Allocations of devices, by serial.
    var allocations: [String: Allocation] = [:]
    /// Devices whose handover is recorded.
    var handedOver: Set<String> = []

    init(now: Date) {
        self.now = now
    }
}

extension SubmissionContext {
    /// The campaign's `max_submission_lag` in seconds (24 hours when the campaign is unknown here).
    func maximumLag(of submission: Submission) -> TimeInterval {
        (campaigns[submission.header.campaign]?.maxSubmissionLagHours ?? 24) * 3600
    }
}
