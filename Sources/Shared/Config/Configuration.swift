import Foundation
import Logging

/// Everything a worker or tool reads from its environment, validated once at start-up.
///
/// The variables and defaults are the contract's "Configuration" table, plus operational knobs
/// (`METRICS_PORT`, `LOG_LEVEL`, `BATCH_SIZE`, `PREFETCH`). Log ``redactedDescription`` (or the value
/// itself: its `description` is the redacted one), never the URLs directly.
public struct Configuration: Sendable, CustomStringConvertible {
    public static let defaultAMQPURL = "amqp://guest:guest@127.0.0.1:5672/%2f"
    public static let defaultDatabaseURL = "postgresql://postgres@127.0.0.1:5432/schoolict"
    public static let defaultSMTPURL = "smtp://127.0.0.1:2525"
    public static let defaultMailFrom = "noreply@schoolict.invalid"
    public static let defaultBatchSize = 500
    public static let batchSizeRange = 1...5000
    public static let defaultPrefetch = 1000
    /// AMQP `basic.qos` carries the prefetch count in 16 bits.
    public static let prefetchRange = 1...65535
    public static let consumersRange = 1...16

    /// `AMQP_URL`: the broker, `amqp://` or `amqps://`.
    public var amqpURL: String
    /// `DATABASE_URL`: PostgreSQL, any libpq connection URI.
    public var databaseURL: String
    /// `SMTP_URL`: the mail server, `smtp://` or `smtps://`.
    public var smtpURL: String
    /// `MAIL_FROM`: the sender address of every mail.
    public var mailFrom: String
    /// `SCHOOLICT_NOW`: where the clock starts; `nil` = the real clock. See ``SchoolClock``.
    public var clockStart: Date?
    /// `METRICS_PORT`: where ``MetricsServer`` listens; `nil` (unset or `0`) = no metrics server.
    public var metricsPort: Int?
    /// `LOG_LEVEL`: `trace`, `debug`, `info` (default), `notice`, `warning`, `error` or `critical`.
    public var logLevel: Logger.Level
    /// `BATCH_SIZE`: rows per database batch, 1–5000 (default 500).
    public var batchSize: Int
    /// `PREFETCH`: unacknowledged deliveries per consumer, 1–65535 (default 1000).
    public var prefetch: Int
    /// CONSUMERS: consumer loops in one worker process, sharing one AMQP channel, each with its own database
    /// connection. `nil`: the worker's own default (2 for the SubmissionWorker, 1 for the others).
    public var consumers: Int?
    /// `MAX_MESSAGE_BYTES`: the largest message body a worker decodes (default 4 MiB); see ``MessageLimits``.
    public var messageLimits: MessageLimits
    /// `BATCH_MAX_WAIT_MS`: a batch stops growing this long after its first delivery, 0–10000 (default 10; 0 takes only
    /// what has already arrived); up to twice this while another loop's batch is still being decided (``BatchFill``).
    public var batchMaximumWaitMilliseconds: Int
    /// `RETENTION_DAYS`: claims and stored outcomes older than this are deleted (default 90; 0 keeps them).
    public var retentionDays: Int
    /// `BATCH_MAX_BYTES`: a batch stops growing once its bodies hold this many bytes (default 16 MiB).
    public var batchMaximumBytes: Int
    public static let batchMaximumBytesRange = 64 * 1024...(1024 * 1024 * 1024)

    /// Reads and validates the environment.
    ///
    /// Unset or empty variables take their defaults.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) {
        let reader = EnvironmentReader(environment: environment)
        amqpURL = try reader.url("AMQP_URL", default: Self.defaultAMQPURL, schemes: ["amqp", "amqps"])
        // A comma-separated list names the nodes of a cluster: each must be a usable URL.
        do {
            _ = try BrokerEndpoints(amqpURL, shuffle: false)
        } catch {
            throw ConfigurationError(code: .invalidURL, variable: "AMQP_URL", message: "\(error.message.prefix(200))")
        }
        databaseURL = try reader.url(
            "DATABASE_URL",
            default: Self.defaultDatabaseURL,
            schemes: ["postgresql", "postgres"],
            allowsKeywordForm: true
        )
        smtpURL = try reader.url("SMTP_URL", default: Self.defaultSMTPURL, schemes: ["smtp", "smtps"])
        mailFrom = try reader.mailAddress("MAIL_FROM", default: Self.defaultMailFrom)
        clockStart = try reader.timestamp("SCHOOLICT_NOW")
        metricsPort = try reader.port("METRICS_PORT")
        logLevel = try reader.logLevel("LOG_LEVEL", default: .info)
        batchSize = try reader.integer("BATCH_SIZE", default: Self.defaultBatchSize, in: Self.batchSizeRange)
        prefetch = try reader.integer("PREFETCH", default: Self.defaultPrefetch, in: Self.prefetchRange)
        consumers = try reader.value("CONSUMERS") == nil
            ? nil : try reader.integer("CONSUMERS", default: 1, in: Self.consumersRange)
        messageLimits = MessageLimits(maximumBodyBytes: try reader.integer(
            "MAX_MESSAGE_BYTES", default: MessageLimits.defaultMaximumBodyBytes, in: MessageLimits.maximumBodyBytesRange))
        retentionDays = try reader.integer("RETENTION_DAYS", default: 90, in: 0...36_500)
        batchMaximumWaitMilliseconds = try reader.integer("BATCH_MAX_WAIT_MS", default: ConsumerService.Settings.defaultBatchMaximumWaitMilliseconds,
                                                          in: 0...10_000)
        batchMaximumBytes = try reader.integer("BATCH_MAX_BYTES", default: ConsumerService.Settings.defaultBatchMaximumBytes,
                                               in: Self.batchMaximumBytesRange)
    }

    /// A variable's value as every worker and tool reads it: `NAME`, or else the contents of the file `NAME_FILE`.
    public static func value(_ name: String,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> String? {
        try EnvironmentReader(environment: environment).value(name)
    }

    /// One line describing the configuration with every password replaced by `***`.
    public var redactedDescription: String {
        let parts = [
            "amqp_url=\(Self.redactingPassword(in: amqpURL))",
            "database_url=\(Self.redactingPassword(in: databaseURL))",
            "smtp_url=\(Self.redactingPassword(in: smtpURL))",
            "mail_from=\(mailFrom)",
            "clock_start=\(clockStart.map { ISO8601.format($0) } ?? "real")",
            "metrics_port=\(metricsPort.map(String.init) ?? "off")",
            "log_level=\(logLevel)",
            "batch_size=\(batchSize)",
            "prefetch=\(prefetch)",
            "consumers=\(consumers.map(String.init) ?? "worker default")",
            "max_message_bytes=\(messageLimits.maximumBodyBytes)",
            "batch_max_bytes=\(batchMaximumBytes)",
            "retention_days=\(retentionDays)",
            "batch_max_wait_ms=\(batchMaximumWaitMilliseconds)",
        ]
        return "Configuration(" + parts.joined(separator: ", ") + ")"
    }

    public var description: String { redactedDescription }

    /// `connection` with its password replaced by `***`: the password of a URL's user information
    /// (`scheme://user:secret@host`) and any `password=` parameter (URI query or libpq keyword form).
    public static func redactingPassword(in connection: String) -> String {
        var text = connection
        if let schemeEnd = text.range(of: "://") {
            let authorityStart = schemeEnd.upperBound
            // Passwords are sometimes written unencoded, with `/` or `@` in them: the user information ends
            // at the last `@` before any query, so look for that rather than at the first `/`.
            let queryStart = text[authorityStart...].firstIndex(where: { $0 == "?" || $0 == "#" }) ?? text.endIndex
            if let at = text[authorityStart..<queryStart].lastIndex(of: "@"),
                let colon = text[authorityStart..<at].firstIndex(of: ":")
            {
                text.replaceSubrange(text.index(after: colon)..<at, with: "***")
            }
        }
        return redactingPasswordParameters(in: text)
    }

    private static func redactingPasswordParameters(in text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let match = rest.range(of: "password=", options: .caseInsensitive) {
            let precededByBoundary =
                match.lowerBound == rest.startIndex
                || [" ", "?", "&", "\t"].contains(rest[rest.index(before: match.lowerBound)])
            result += rest[..<match.upperBound]
            rest = rest[match.upperBound...]
            guard precededByBoundary else { continue }
            let valueEnd: Substring.Index
            if rest.first == "'" {
                // libpq keyword form: a quoted value, with `\'` for a quote inside it.
                var index = rest.index(after: rest.startIndex)
                while index < rest.endIndex, rest[index] != "'" {
                    index =
                        rest[index] == "\\" && rest.index(after: index) < rest.endIndex
                        ? rest.index(index, offsetBy: 2) : rest.index(after: index)
                }
                valueEnd = index < rest.endIndex ? rest.index(after: index) : index
            } else {
                valueEnd =
                    rest.firstIndex(where: { $0 == "&" || $0 == " " || $0 == "\t" || $0 == "#" }) ?? rest.endIndex
            }
            result += "***"
            rest = rest[valueEnd...]
        }
        return result + rest
    }
}

/// Reads one variable at a time, turning bad values into ``ConfigurationError``s.
private struct EnvironmentReader {
    var environment: [String: String]

    /// The trimmed value, or `nil` when the variable is unset or blank. When `NAME` is unset, `NAME_FILE` names a
    /// file holding the value (a secret mounted by an orchestrator: `AMQP_URL_FILE`, `DATABASE_URL_FILE`, …).
    func value(_ name: String) throws(ConfigurationError) -> String? {
        if let direct = Self.value(name, in: environment) { return direct }
        return try file(name)
    }

    static func value(_ name: String, in environment: [String: String]) -> String? {
        guard let raw = environment[name] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    private func file(_ name: String) throws(ConfigurationError) -> String? {
        guard let path = Self.value(name + "_FILE", in: environment) else { return nil }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 65_536 else {
            throw ConfigurationError(code: .invalidValue, variable: name + "_FILE",
                                     message: "cannot read '\(path.prefix(200))' (or it is larger than 64 KiB)")
        }
        let trimmed = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return trimmed.isEmpty ? nil : trimmed
    }

    func url(
        _ name: String,
        default defaultValue: String,
        schemes: Set<String>,
        allowsKeywordForm: Bool = false
    ) throws(ConfigurationError) -> String {
        guard let text = try value(name) else { return defaultValue }
        // The value may hold a password: errors describe it, they never quote it.
        guard let schemeEnd = text.range(of: "://") else {
            if allowsKeywordForm, text.contains("=") { return text }
            throw ConfigurationError(
                code: .invalidURL,
                variable: name,
                message: "must be a URL starting with \(schemes.sorted().map { "\($0)://" }.joined(separator: " or "))"
            )
        }
        let scheme = text[..<schemeEnd.lowerBound].lowercased()
        guard schemes.contains(scheme) else {
            throw ConfigurationError(
                code: .invalidURL,
                variable: name,
                message: "scheme must be \(schemes.sorted().joined(separator: " or ")), not \(scheme.prefix(16))"
            )
        }
        guard text[schemeEnd.upperBound...].contains(where: { $0 != "/" }) else {
            throw ConfigurationError(code: .invalidURL, variable: name, message: "has no host")
        }
        return text
    }

    func mailAddress(_ name: String, default defaultValue: String) throws(ConfigurationError) -> String {
        guard let text = try value(name) else { return defaultValue }
        // The address goes into SMTP commands and headers: control characters would allow injection.
        guard text.contains("@"), !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ConfigurationError(
                code: .invalidValue,
                variable: name,
                message: "must be a mail address like noreply@example.org"
            )
        }
        return text
    }

    func timestamp(_ name: String) throws(ConfigurationError) -> Date? {
        guard let text = try value(name) else { return nil }
        guard let parsed = ISO8601.parse(text) else {
            throw ConfigurationError(
                code: .invalidTimestamp,
                variable: name,
                message:
                    "'\(text.prefix(64))' is not an ISO 8601 timestamp with an offset, e.g. 2022-01-14T08:00:00+02:00"
            )
        }
        return parsed.date
    }

    func integer(_ name: String, default defaultValue: Int, in range: ClosedRange<Int>) throws(ConfigurationError)
        -> Int
    {
        guard let text = try value(name) else { return defaultValue }
        guard let number = Int(text) else {
            throw ConfigurationError(
                code: .notANumber,
                variable: name,
                message: "'\(text.prefix(32))' is not a whole number"
            )
        }
        guard range.contains(number) else {
            throw ConfigurationError(
                code: .outOfRange,
                variable: name,
                message: "\(number) is outside \(range.lowerBound)...\(range.upperBound)"
            )
        }
        return number
    }

    /// A TCP port; `0` means "off", like an unset variable.
    func port(_ name: String) throws(ConfigurationError) -> Int? {
        guard try value(name) != nil else { return nil }
        let port = try integer(name, default: 0, in: 0...65535)
        return port == 0 ? nil : port
    }

    func logLevel(_ name: String, default defaultValue: Logger.Level) throws(ConfigurationError) -> Logger.Level {
        guard let text = try value(name)?.lowercased() else { return defaultValue }
        if text == "warn" { return .warning }
        guard let level = Logger.Level(rawValue: text) else {
            throw ConfigurationError(
                code: .invalidValue,
                variable: name,
                message: "'\(text.prefix(32))' is not one of trace, debug, info, notice, warning, error, critical"
            )
        }
        return level
    }
}
