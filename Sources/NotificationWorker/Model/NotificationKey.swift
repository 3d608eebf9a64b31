import Shared

/// The identity of one e-mail: no two e-mails with the same key are ever sent (the database holds it as a
/// unique key), whatever the number of workers and restarts.
///
/// `series` is the deadline (ISO 8601, UTC) for deadline e-mails, so an extension starts a new series; the run id
/// for allocation e-mails; `handover` for handover reminders. `day` is the campaign-local day the e-mail is for.
struct NotificationKey: Hashable, Sendable {
    var kind: NotificationKind
    var campaign: String
    var series: String
    var day: LocalDay
    var recipient: String

    static let handoverSeries = "handover"

    init(kind: NotificationKind, campaign: String, series: String, day: LocalDay, recipient: String) {
        self.kind = kind
        self.campaign = campaign
        self.series = series
        self.day = day
        // Mail addresses compare case-insensitively in practice: one school, one key.
        self.recipient = recipient.lowercased()
    }

    /// `deadline_reminder/gr-ict-2022/2022-01-21T21:59:59Z/2022-01-14/mail@0551010.sch.gr`.
    var text: String {
        "\(kind.rawValue)/\(campaign)/\(series)/\(day)/\(recipient)"
    }

    /// The `Message-ID` header, derived from the key alone (plus the sender's domain), so a message sent again
    /// after a crash carries the same one and mail systems can drop the copy.
    func messageID(domain: String) -> String {
        let digest = SHA256.hexDigest(of: SHA256.hash(Array(text.utf8)))
        return "<\(digest.prefix(40)).\(kind.rawValue)@\(domain)>"
    }

    /// The domain of a sender address, for ``messageID(domain:)``; a safe default when it has none usable.
    static func messageIDDomain(from address: String) -> String {
        let domain = address.split(separator: "@").last.map(String.init) ?? ""
        let allowed = domain.unicodeScalars.allSatisfy { scalar in
            scalar.isASCII && (scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "." || scalar == "-")
        }
        return !domain.isEmpty && allowed && address.contains("@") ? domain.lowercased() : "schoolict.invalid"
    }
}
