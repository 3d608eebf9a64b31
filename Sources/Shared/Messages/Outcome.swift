/// The one outcome event a submission or command gets (`docs/asyncapi.yaml`, "Outcomes and event ids").
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
    /// Field errors found beyond those in `result` (already left out by the decoder).
    public var omittedErrors: Int
    /// The AMQP `user_id` of the message, as the broker validated it (`published_by` in the body), if it had one.
    public var publishedBy: String?
    /// The message's trace context: the outcome carries the same trace with a new span id.
    public var trace: TraceContext?

    public init(messageID: String, subject: Subject, campaign: String?, schoolCode: String?, result: Result,
                omittedErrors: Int = 0) {
        self.messageID = messageID
        self.subject = subject
        self.campaign = campaign
        self.schoolCode = schoolCode
        self.result = result
        self.omittedErrors = omittedErrors
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
        return id.utf8.count <= 255 ? id : "outcome-sha256-" + SHA256.hexDigest(of: Array(messageID.utf8))
    }

    public var body: JSONValue {
        var fields: JSONObject = [
            "message_id": .string(messageID),
            "campaign": .optional(campaign),
            "school_code": .optional(schoolCode),
        ]
        if let publishedBy { fields["published_by"] = .string(publishedBy) }
        switch result {
        case .accepted(let status, let summary):
            fields["status"] = .string(status.rawValue)
            fields["summary"] = summary
        case .rejected(let errors):
            // Bounded whatever the decoder found: the first errors listed, the rest counted.
            let listed = errors.prefix(MessageLimits.maximumErrors)
            fields["errors"] = .array(listed.map { error in
                ["code": .string(error.code.rawValue), "field": .string(String(error.field.prefix(200))),
                 "message": .string(String(error.message.prefix(300)))]
            })
            let truncated = omittedErrors + errors.count - listed.count
            if truncated > 0 { fields["truncated"] = .int(truncated) }
        }
        return .object(fields)
    }

    /// The event to publish on `schools.events`, never larger than ``MessageLimits/maximumOutgoingBytes``: an
    /// outcome that would be (a summary grown by a bug) is replaced by a `processing_failed` one.
    public var message: AMQPMessage {
        let serialized = body.serialized()
        guard serialized.count <= MessageLimits.maximumOutgoingBytes else { return processingFailed.message }
        var message = AMQPMessage(exchange: Topology.Exchange.events, routingKey: routingKey, messageID: outcomeMessageID,
                                  correlationID: messageID, body: serialized)
        message.trace = trace?.child()
        return message
    }

    /// This outcome's message with a `processing_failed` rejection instead: small whatever the original held.
    public var processingFailed: Outcome {
        .rejected(messageID, subject, campaign: campaign, schoolCode: schoolCode, [FieldError(
            .processingFailed, field: "", "the outcome was too large to publish")])
    }

    public static func rejected(_ messageID: String, _ subject: Subject, campaign: String? = nil,
                                schoolCode: String? = nil, _ errors: [FieldError], omitted: Int = 0) -> Outcome {
        Outcome(messageID: messageID, subject: subject, campaign: campaign, schoolCode: schoolCode,
                result: .rejected(errors), omittedErrors: omitted)
    }
}

extension AMQPMessage {
    /// For an outcome event the broker refused for good: the same outcome ids with a small `processing_failed`
    /// rejection instead. `nil` for any other event.
    public func replacementForRefusedOutcome() -> AMQPMessage? {
        guard let correlationID else { return nil }
        let parts = routingKey.split(separator: ".", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, parts[1] == "accepted" || parts[1] == "rejected" else { return nil }
        let subject: Outcome.Subject
        switch parts[0] {
        case "submission": subject = .submission(String(parts[2]))
        case "command": subject = .command(String(parts[2]))
        default: return nil
        }
        return Outcome.rejected(correlationID, subject, [FieldError(
            .processingFailed, field: "", "the broker refused this message's outcome; it is kept for an operator")]).message
    }
}
