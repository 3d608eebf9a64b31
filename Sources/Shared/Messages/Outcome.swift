/// The one outcome event a submission or command gets (`CONTRACT.md`, "Outcomes").
public struct Outcome: Sendable, Equatable {
    public enum Subject: Sendable, Equatable {
        /// A submission type's wire name, or `unknown`.
        case submission(String)
        /// A command's routing key.
        case command(String)
    }

    public enum Result: Sendable, Equatable {
        case accepted(status: SubmissionStatus, summary: JSONValue)
        case rejected([FieldError])
    }

    /// The message id of the submission or command this outcome is about.
    public var messageID: String
    public var subject: Subject
    public var campaign: String?
    public var schoolCode: String?
    public var result: Result

    public init(messageID: String, subject: Subject, campaign: String?, schoolCode: String?, result: Result) {
        self.messageID = messageID
        self.subject = subject
        self.campaign = campaign
        self.schoolCode = schoolCode
        self.result = result
    }

    public var isAccepted: Bool { if case .accepted = result { return true }; return false }

    /// `submission.accepted.<type>`, `command.rejected.<key>`, …
    public var routingKey: String {
        let verdict = isAccepted ? "accepted" : "rejected"
        switch subject {
        case .submission(let type): return "submission.\(verdict).\(type)"
        case .command(let key): return "command.\(verdict).\(key)"
        }
    }

    /// The outcome's own message id: `outcome-` followed by the message's.
    /// (AMQP caps a `message_id` at 255 bytes: an id too long for the prefix is replaced by its SHA-256.)
    public var outcomeMessageID: String { Self.outcomeID(for: messageID) }

    public static func outcomeID(for messageID: String) -> String {
        let id = "outcome-" + messageID
        return id.utf8.count <= 255 ? id : "outcome-sha256-" + SHA256.hex(Array(messageID.utf8))
    }

    public var body: JSONValue {
        var fields: [String: JSONValue] = [
            "message_id": .string(messageID),
            "campaign": .optional(campaign),
            "school_code": .optional(schoolCode),
        ]
        switch result {
        case .accepted(let status, let summary):
            fields["status"] = .string(status.rawValue)
            fields["summary"] = summary
        case .rejected(let errors):
            fields["errors"] = .array(errors.map { error in
                ["code": .string(error.code.rawValue), "field": .string(error.field), "message": .string(error.message)]
            })
        }
        return .object(fields)
    }

    /// The event to publish on `schools.events`.
    public var message: AMQPMessage {
        AMQPMessage(exchange: Topology.Exchange.events, routingKey: routingKey, messageID: outcomeMessageID,
                    correlationID: messageID, body: body.serialized())
    }

    public static func rejected(_ messageID: String, _ subject: Subject, campaign: String? = nil,
                                schoolCode: String? = nil, _ errors: [FieldError]) -> Outcome {
        Outcome(messageID: messageID, subject: subject, campaign: campaign, schoolCode: schoolCode,
                result: .rejected(errors))
    }
}
