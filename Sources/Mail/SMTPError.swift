/// A message the mail server did not take, or a transfer that did not complete.
///
/// `description` names the stage and the server's reply; it never contains the password of `SMTP_URL`
/// or the message itself.
public struct SMTPError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, and so whether sending again later can help.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The server answered 4xx (e.g. `451 try again later`): retry later.
        public static let transient = Code(rawValue: "transient")
        /// The server answered 5xx (e.g. `550 mailbox unavailable`): this message will never be taken.
        public static let permanent = Code(rawValue: "permanent")
        /// No connection, a dropped one, a timeout or a TLS failure: retry later.
        public static let connection = Code(rawValue: "connection")
        /// The server refused the credentials of `SMTP_URL`: retry later (an operator must fix it).
        public static let authentication = Code(rawValue: "authentication")
        /// The message or an address cannot be sent as it is (e.g. a line break in an address).
        public static let invalidMessage = Code(rawValue: "invalid_message")
        /// libcurl could not be set up (out of memory, an option this build lacks).
        public static let setup = Code(rawValue: "setup")
    }

    public var code: Code
    /// The SMTP reply code of the failing step (`CURLINFO_RESPONSE_CODE`), `nil` when the server said nothing.
    public var replyCode: Int?
    /// The server's last reply line, e.g. `451 4.3.0 try again later`, when there was one.
    public var reply: String?
    /// libcurl's error text (`CURLOPT_ERRORBUFFER`) or this client's reason.
    public var message: String

    public init(code: Code, replyCode: Int? = nil, reply: String? = nil, message: String) {
        self.code = code
        self.replyCode = replyCode
        self.reply = reply
        self.message = message
    }

    /// Whether the same message may be taken if sent again later (4xx, connection and credential trouble).
    public var isRetryable: Bool {
        code == .transient || code == .connection || code == .authentication
    }

    /// The error code for an SMTP reply code that ended a transfer: 4xx transient, 5xx permanent, anything else
    /// (including no reply at all) a connection problem.
    public static func code(forReply replyCode: Int?) -> Code {
        switch replyCode ?? 0 {
        case 400..<500: .transient
        case 500..<600: .permanent
        default: .connection
        }
    }

    public var description: String {
        var parts = ["code: \(code)"]
        if let replyCode { parts.append("reply_code: \(replyCode)") }
        if let reply { parts.append("reply: \(reply)") }
        parts.append("message: \(message)")
        return "SMTPError(\(parts.joined(separator: ", ")))"
    }
}
