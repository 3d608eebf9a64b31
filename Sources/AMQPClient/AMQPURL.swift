/// The parts of an `amqp://user:pass@host:port/vhost` or `amqps://` URL.
public struct AMQPURL: Sendable, Equatable, CustomStringConvertible {
    public var user: String
    public var password: String
    public var host: String
    public var port: Int
    public var virtualHost: String
    public var useTLS: Bool

    public init(user: String = "guest", password: String = "guest", host: String = "127.0.0.1",
                port: Int? = nil, virtualHost: String = "/", useTLS: Bool = false) {
        self.user = user
        self.password = password
        self.host = host
        self.port = port ?? (useTLS ? 5671 : 5672)
        self.virtualHost = virtualHost
        self.useTLS = useTLS
    }

    /// Parses an AMQP URI as RabbitMQ documents it: percent-encoded parts, `%2f` for the `/` vhost,
    /// an empty path for the default vhost `/`.
    public init(parsing text: String) throws(AMQPError) {
        let scheme: Substring
        let rest: Substring
        if let range = text.range(of: "://") {
            scheme = text[..<range.lowerBound]
            rest = text[range.upperBound...]
        } else {
            throw AMQPError(code: .invalidURL, message: "AMQP URL has no scheme")
        }
        switch scheme.lowercased() {
        case "amqp": useTLS = false
        case "amqps": useTLS = true
        default: throw AMQPError(code: .invalidURL, message: "AMQP URL scheme must be amqp or amqps")
        }
        var authority = rest
        var path: Substring? = nil
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            path = rest[rest.index(after: slash)...]
        }
        if let query = path?.firstIndex(of: "?") { path = path?[..<query] }
        user = "guest"
        password = "guest"
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = try Self.decode(userInfo[..<colon])
                password = try Self.decode(userInfo[userInfo.index(after: colon)...])
            } else {
                user = try Self.decode(userInfo)
                password = ""
            }
        }
        var hostPart = authority
        var portValue: Int? = nil
        if hostPart.hasPrefix("[") {
            guard let close = hostPart.firstIndex(of: "]") else {
                throw AMQPError(code: .invalidURL, message: "AMQP URL has an unterminated IPv6 address")
            }
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                portValue = try Self.port(after.dropFirst())
            } else if !after.isEmpty {
                throw AMQPError(code: .invalidURL, message: "AMQP URL has text after the IPv6 address")
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            portValue = try Self.port(hostPart[hostPart.index(after: colon)...])
            hostPart = hostPart[..<colon]
        }
        host = hostPart.isEmpty ? "localhost" : try Self.decode(hostPart)
        port = portValue ?? (useTLS ? 5671 : 5672)
        if let path, !path.isEmpty {
            virtualHost = try Self.decode(path)
        } else {
            virtualHost = "/"
        }
    }

    /// The URL with the password masked, for logs.
    public var description: String {
        "\(useTLS ? "amqps" : "amqp")://\(user):***@\(host):\(port)/\(virtualHost == "/" ? "%2f" : virtualHost)"
    }

    private static func port(_ text: Substring) throws(AMQPError) -> Int {
        guard !text.isEmpty, text.utf8.allSatisfy({ (0x30...0x39).contains($0) }), let value = Int(text),
              (1...65535).contains(value) else {
            throw AMQPError(code: .invalidURL, message: "AMQP URL port is not a number from 1 to 65535")
        }
        return value
    }

    private static func hexDigit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private static func decode(_ part: Substring) throws(AMQPError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(part.utf8.count)
        var iterator = Array(part.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexDigit), let low = iterator.next().flatMap(hexDigit) else {
                    throw AMQPError(code: .invalidURL, message: "AMQP URL has a bad percent escape")
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
