/// One reason a message was rejected, as the portal shows it: a contract code, the field, a message.
///
/// Messages name the field and the rule, never the submitted value (it may be a student's name).
public struct FieldError: Sendable, Equatable, Codable, CustomStringConvertible {
    public var code: RejectionCode
    public var field: String
    public var message: String

    public init(_ code: RejectionCode, field: String, _ message: String) {
        self.code = code
        self.field = field
        self.message = message
    }

    public var description: String { "\(code.rawValue) \(field): \(message)" }
}

/// Rejection codes of the contract, and the ones this project adds.
public struct RejectionCode: RawRepresentable, Hashable, Sendable, Codable {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    // The contract's codes.
    public static let malformed = RejectionCode(rawValue: "malformed")
    public static let unknownCampaign = RejectionCode(rawValue: "unknown_campaign")
    public static let unknownSchool = RejectionCode(rawValue: "unknown_school")
    public static let notOfficialAccount = RejectionCode(rawValue: "not_official_account")
    public static let procedureNotAllowed = RejectionCode(rawValue: "procedure_not_allowed")
    public static let campaignNotOpen = RejectionCode(rawValue: "campaign_not_open")
    public static let invalidField = RejectionCode(rawValue: "invalid_field")
    public static let duplicateSerial = RejectionCode(rawValue: "duplicate_serial")
    public static let unknownDevice = RejectionCode(rawValue: "unknown_device")
    public static let notAllocatedToStudent = RejectionCode(rawValue: "not_allocated_to_student")

    // Added by this project (documented in docs/asyncapi.yaml).
    /// The routing key names no message type this worker knows.
    public static let unknownType = RejectionCode(rawValue: "unknown_type")
    /// The school exists but the campaign's `regions`/`levels` leave it out.
    public static let schoolNotInCampaign = RejectionCode(rawValue: "school_not_in_campaign")
    /// The message type does not belong to this kind of campaign (an inventory for a device campaign).
    public static let wrongCampaignKind = RejectionCode(rawValue: "wrong_campaign_kind")
    /// A donation with this `donation_ref` is already recorded in the campaign.
    public static let duplicateDonation = RejectionCode(rawValue: "duplicate_donation")
    /// A handover for this device is already recorded.
    public static let alreadyHandedOver = RejectionCode(rawValue: "already_handed_over")
    /// The worker could not process the message after several attempts; it is kept in `<queue>.dead`.
    public static let processingFailed = RejectionCode(rawValue: "processing_failed")
    /// The message is over a size limit (`MAX_MESSAGE_BYTES`, JSON values, items, serials, students, devices).
    public static let tooLarge = RejectionCode(rawValue: "too_large")
}

/// Every problem found in one message, bounded: at most ``MessageLimits/maximumErrors`` listed, the rest counted.
public struct FieldErrors: Error, Sendable, Equatable {
    public var errors: [FieldError]
    /// Problems found but not listed.
    public var omitted: Int
    public init(_ errors: [FieldError], omitted: Int = 0) {
        self.errors = errors
        self.omitted = omitted
    }
}
