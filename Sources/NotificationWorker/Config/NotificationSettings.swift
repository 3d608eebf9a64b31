import Foundation
import Shared

/// The NotificationWorker's own knobs, read from the environment next to the contract's ``Configuration``.
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `NOTIFY_DRY_RUN` | `1`: print what is due and would be sent, send nothing, exit | off |
/// | `NOTIFY_INTERVAL_SECONDS` | how often the scheduler plans | 5 |
/// | `NOTIFY_SENDERS` | sending threads, each with its own SMTP connection | 2 |
/// | `NOTIFY_BATCH_SIZE` | e-mails a sender claims at a time | 50 |
/// | `NOTIFY_RETRY_BASE_SECONDS` | first retry delay after a 4xx or connection error (doubles, with jitter) | 30 |
/// | `NOTIFY_RETRY_MAX_SECONDS` | longest retry delay | 3600 |
/// | `NOTIFY_MAX_ATTEMPTS` | attempts before a retryable failure is recorded as failed | 20 |
/// | `NOTIFY_SMTP_TIMEOUT_SECONDS` | time allowed for one message, connection included | 60 |
/// | `NOTIFY_SUMMARIES_PER_HOUR` | allocation runs summarised to a campaign's staff in any hour (more are logged, not mailed) | 6 |
/// | `SMTP_CA_FILE` | PEM bundle of CAs to trust for the mail server's certificate (a relay with a private CA) | system |
struct NotificationSettings: Sendable, Equatable {
    var dryRun = false
    var planInterval: Double = 5
    var senders = 2
    var batchSize = 50
    var retryBase: Double = 30
    var retryMaximum: Double = 3600
    var maximumAttempts = 20
    var smtpTimeout: Double = 60
    var summariesPerHour = 6
    /// `SMTP_CA_FILE`; `nil` = libcurl's system bundle.
    var smtpCAFile: String?
    /// How often an idle sender looks for due e-mails (seconds).
    var pollInterval: Double = 1
    /// How long a claim lasts before another sender may take the e-mails over.
    var claimLease: Double {
        // A whole batch at the SMTP timeout, plus margin: a live sender never loses its claim.
        max(120, smtpTimeout * 2 + 60)
    }

    init() {}

    init(environment: [String: String]) throws(ConfigurationError) {
        func value(_ name: String) -> String? {
            guard let raw = environment[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func number(_ name: String, _ fallback: Double, _ range: ClosedRange<Double>) throws(ConfigurationError) -> Double {
            guard let text = value(name) else { return fallback }
            guard let parsed = Double(text), parsed.isFinite else {
                throw ConfigurationError(code: .notANumber, variable: name, message: "'\(text.prefix(32))' is not a number")
            }
            guard range.contains(parsed) else {
                throw ConfigurationError(code: .outOfRange, variable: name,
                                         message: "\(parsed) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return parsed
        }
        func integer(_ name: String, _ fallback: Int, _ range: ClosedRange<Int>) throws(ConfigurationError) -> Int {
            guard let text = value(name) else { return fallback }
            guard let parsed = Int(text) else {
                throw ConfigurationError(code: .notANumber, variable: name, message: "'\(text.prefix(32))' is not a whole number")
            }
            guard range.contains(parsed) else {
                throw ConfigurationError(code: .outOfRange, variable: name,
                                         message: "\(parsed) is outside \(range.lowerBound)...\(range.upperBound)")
            }
            return parsed
        }
        if let flag = value("NOTIFY_DRY_RUN")?.lowercased() {
            guard let parsed = ["1": true, "true": true, "yes": true, "0": false, "false": false, "no": false][flag] else {
                throw ConfigurationError(code: .invalidValue, variable: "NOTIFY_DRY_RUN", message: "must be 1 or 0")
            }
            dryRun = parsed
        }
        planInterval = try number("NOTIFY_INTERVAL_SECONDS", 5, 0.05...3600)
        senders = try integer("NOTIFY_SENDERS", 2, 1...64)
        batchSize = try integer("NOTIFY_BATCH_SIZE", 50, 1...1000)
        retryBase = try number("NOTIFY_RETRY_BASE_SECONDS", 30, 0.01...86_400)
        retryMaximum = try number("NOTIFY_RETRY_MAX_SECONDS", 3600, 0.01...604_800)
        maximumAttempts = try integer("NOTIFY_MAX_ATTEMPTS", 20, 1...1000)
        smtpTimeout = try number("NOTIFY_SMTP_TIMEOUT_SECONDS", 60, 1...3600)
        summariesPerHour = try integer("NOTIFY_SUMMARIES_PER_HOUR", 6, 0...10_000)
        if let caFile = value("SMTP_CA_FILE") {
            guard FileManager.default.isReadableFile(atPath: caFile) else {
                throw ConfigurationError(code: .invalidValue, variable: "SMTP_CA_FILE", message: "'\(caFile.prefix(200))' is not a readable file")
            }
            smtpCAFile = caFile
        }
        pollInterval = min(1, planInterval)
    }

    /// The delay before attempt `attempts + 1` of an e-mail that failed `attempts` times: exponential from
    /// `retryBase`, capped at `retryMaximum`, with jitter over its upper half so that many e-mails that failed
    /// together (the server was down) do not all come back at the same instant.
    func retryDelay(afterAttempts attempts: Int, random: Double = Double.random(in: 0...1)) -> Double {
        let ceiling = min(retryMaximum, retryBase * pow(2, Double(min(max(attempts - 1, 0), 40))))
        return ceiling * (0.5 + 0.5 * random)
    }
}
