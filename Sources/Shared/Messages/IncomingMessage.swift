/// A delivery on a worker's queue, classified: a submission, a command, or something rejected outright.
public enum IncomingMessage: Sendable {
    case submission(id: String, Submission)
    case command(id: String, Command)
    /// Not processable: the outcome says why.
    case invalid(Outcome)

    public var messageID: String {
        switch self {
        case .submission(let id, _), .command(let id, _): id
        case .invalid(let outcome): outcome.messageID
        }
    }

    /// Classifies and decodes a delivery. Never throws: every failure becomes a rejection outcome.
    ///
    /// The message type comes from the exchange and routing key: submissions on `schools.submissions`
    /// (key = type), commands on `schools.commands` (key = command).
    /// The message id and subject of a delivery, from its properties and routing alone: the body is only
    /// hashed, never parsed (safe for a message that may crash the parser).
    ///
    /// A missing id gets one derived from the body, so the same body always gets the same outcome. The id is
    /// kept exactly as sent: outcomes carry it back as their correlation id.
    public static func identify(exchange: String, routingKey: String, messageID rawID: String?,
                                body: [UInt8]) -> (id: String, subject: Outcome.Subject) {
        let subject: Outcome.Subject
        if exchange == Topology.Exchange.commands, let key = CommandKey(rawValue: routingKey) {
            subject = .command(key.rawValue)
        } else if exchange != Topology.Exchange.commands, let type = SubmissionType(rawValue: routingKey) {
            subject = .submission(type.rawValue)
        } else {
            subject = exchange == Topology.Exchange.commands ? .command("unknown") : .submission("unknown")
        }
        let givenID = rawID ?? ""
        return (givenID.isEmpty ? "sha256-" + SHA256.hex(body) : givenID, subject)
    }

    public static func classify(exchange: String, routingKey: String, messageID rawID: String?,
                                body: [UInt8]) -> IncomingMessage {
        let (id, subject) = identify(exchange: exchange, routingKey: routingKey, messageID: rawID, body: body)
        let commandKey = exchange == Topology.Exchange.commands ? CommandKey(rawValue: routingKey) : nil
        let submissionType = exchange != Topology.Exchange.commands ? SubmissionType(rawValue: routingKey) : nil
        let givenID = rawID ?? ""

        let object: [String: JSONValue]
        do {
            guard case .object(let fields) = try JSONParser.parse(body) else {
                return .invalid(.rejected(id, subject, [FieldError(.malformed, field: "", "the body must be a JSON object")]))
            }
            object = fields
        } catch {
            return .invalid(.rejected(id, subject, [FieldError(.malformed, field: "",
                                                              "the body is not valid JSON (\(error.reason) at byte \(error.offset))")]))
        }
        let campaign = object["campaign"]?.stringValue
        let school = object["school_code"]?.stringValue ?? object["target_school_code"]?.stringValue

        if givenID.isEmpty {
            return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school,
                                      [FieldError(.malformed, field: "message_id", "the AMQP message_id property is required")]))
        }
        if let submissionType {
            switch Submission.decode(type: submissionType, from: object) {
            case .success(let submission): return .submission(id: id, submission)
            case .failure(let failure):
                return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school, failure.errors))
            }
        }
        if let commandKey {
            switch Command.decode(key: commandKey, from: object) {
            case .success(let command): return .command(id: id, command)
            case .failure(let failure):
                return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school, failure.errors))
            }
        }
        return .invalid(.rejected(id, subject, campaign: campaign, schoolCode: school,
                                  [FieldError(.unknownType, field: "routing_key",
                                              "no message type is published with this routing key on \(exchange)")]))
    }
}
