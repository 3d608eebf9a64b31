/// An error from the broker or from rabbitmq-c, with the code that explains it.
///
/// `description` carries the library's or the server's reply text, never message bodies.
public struct AMQPError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The URL in `AMQP_URL` could not be understood.
        public static let invalidURL = Code(rawValue: "invalid_url")
        /// TCP or TLS connection, or the AMQP handshake, failed.
        public static let connectionFailed = Code(rawValue: "connection_failed")
        /// rabbitmq-c reported an error (see `libraryStatus`).
        public static let library = Code(rawValue: "library_error")
        /// The server closed the channel or connection (see `replyCode`).
        public static let serverClosed = Code(rawValue: "server_closed")
        /// The broker refused (nack) a published message.
        public static let publishNacked = Code(rawValue: "publish_nacked")
        /// The connection is closed or was never opened.
        public static let notConnected = Code(rawValue: "not_connected")
    }

    public var code: Code
    /// The rabbitmq-c status (`AMQP_STATUS_*`), when the library reported the failure.
    public var libraryStatus: Int32?
    /// The AMQP reply code (e.g. 404 NOT_FOUND, 406 PRECONDITION_FAILED), when the server closed.
    public var replyCode: UInt16?
    /// What the library or the server said.
    public var message: String

    public init(code: Code, libraryStatus: Int32? = nil, replyCode: UInt16? = nil, message: String) {
        self.code = code
        self.libraryStatus = libraryStatus
        self.replyCode = replyCode
        self.message = message
    }

    public var description: String {
        var text = "AMQPError(\(code)"
        if let libraryStatus { text += ", status \(libraryStatus)" }
        if let replyCode { text += ", reply \(replyCode)" }
        return text + "): \(message)"
    }
}
