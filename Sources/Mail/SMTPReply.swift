/// The server's answer to a message it took (the reply to the end of `DATA`).
public struct SMTPReply: Sendable, Equatable {
    /// The reply code, `250` normally.
    public var code: Int
    /// The whole last reply line, e.g. `250 2.0.0 Ok: queued as 4F2A1`.
    public var text: String

    public init(code: Int, text: String) {
        self.code = code
        self.text = text
    }
}
