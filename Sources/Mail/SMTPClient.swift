import CCurl
import Foundation

/// Sends e-mail through libcurl's SMTP client, one message at a time over a connection it keeps open.
///
/// The client owns one libcurl easy handle, and with it libcurl's connection cache: consecutive ``send(_:from:to:)``
/// calls reuse the open (and, with TLS, already negotiated) connection instead of connecting, greeting and
/// authenticating again. Like the handle it wraps, a client is confined to one thread; make one per sending thread.
///
/// - `smtp://host:port` speaks plain SMTP and upgrades with `STARTTLS` whenever the server offers it;
///   `smtps://host:port` is TLS from the first byte (implicit TLS, usually port 465).
/// - `user:password@` in the URL (percent-encoded) makes libcurl authenticate with the best mechanism the
///   server offers, and then only over TLS: `smtp://` with credentials requires `STARTTLS` (a server that does not
///   offer it is refused before `AUTH`, so credentials never cross the network in clear).
/// - A path (`smtp://host:25/school.example`) sets the name sent in `EHLO`.
public final class SMTPClient {
    /// The `SMTP_URL` scheme and what it means for TLS.
    public enum Security: Sendable, Equatable {
        /// `smtp://` without credentials: STARTTLS when the server offers it (`CURLUSESSL_TRY`).
        case opportunisticSTARTTLS
        /// `smtp://user:password@…`: STARTTLS required before anything else (`CURLUSESSL_ALL`).
        case requiredSTARTTLS
        /// `smtps://`: implicit TLS.
        case implicitTLS
    }

    public let security: Security
    private var handle: UnsafeMutableRawPointer?
    private let url: String
    private let password: String?
    /// libcurl writes its error text here (`CURLOPT_ERRORBUFFER`, `CURL_ERROR_SIZE` bytes).
    private let errorBuffer: UnsafeMutablePointer<CChar>
    /// The server's last reply line, written by the shim's debug callback.
    private let replyBuffer: UnsafeMutablePointer<ccurl_reply>

    /// `curl_global_init` must run once, before any handle exists and before threads use libcurl.
    private static let globalInit: CURLcode = curl_global_init(Int(CURL_GLOBAL_DEFAULT))

    /// Prepares a handle for `url`; no connection is made until the first message.
    ///
    /// - Parameters:
    ///   - url: `SMTP_URL`, `smtp://[user:password@]host[:port][/ehlo-name]` or `smtps://…`.
    ///   - caFile: PEM file of the certificate authorities to trust for the server's TLS certificate, for a relay
    ///     with a private CA; `nil` = the system's (libcurl's built-in bundle). Certificates are always verified.
    ///   - connectTimeout: Time allowed to connect, greet, STARTTLS and authenticate.
    ///   - timeout: Time allowed for a whole message, connection included.
    /// - Throws: ``SMTPError`` with code ``SMTPError/Code/setup`` for an unusable URL or a libcurl without SMTP.
    public init(url: String, caFile: String? = nil, connectTimeout: Duration = .seconds(10),
                timeout: Duration = .seconds(60)) throws(SMTPError) {
        let lowered = url.lowercased()
        if lowered.hasPrefix("smtps://") {
            security = .implicitTLS
        } else if lowered.hasPrefix("smtp://") {
            let user = URLComponents(string: url)?.user ?? ""
            security = user.isEmpty ? .opportunisticSTARTTLS : .requiredSTARTTLS
        } else {
            throw SMTPError(code: .setup, message: "the SMTP URL must start with smtp:// or smtps://")
        }
        guard Self.globalInit == CURLE_OK else {
            throw SMTPError(code: .setup, message: "curl_global_init failed (\(Self.globalInit.rawValue))")
        }
        guard let handle = curl_easy_init() else {
            throw SMTPError(code: .setup, message: "curl_easy_init failed")
        }
        self.handle = handle
        self.url = url
        self.password = URLComponents(string: url)?.password
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
        replyBuffer = .allocate(capacity: 1)
        replyBuffer.initialize(to: ccurl_reply())

        do {
            try configure(handle, caFile: caFile, connectTimeout: connectTimeout, timeout: timeout)
        } catch {
            close()
            throw error
        }
    }

    deinit {
        close()
        errorBuffer.deallocate()
        replyBuffer.deallocate()
    }

    /// Closes the connection and frees the handle. Calling it again does nothing; ``send(_:from:to:)`` then throws.
    public func close() {
        guard let handle else { return }
        self.handle = nil
        curl_easy_cleanup(handle)
    }

    /// Sends one message: `MAIL FROM`, one `RCPT TO` per recipient, `DATA` with `message` (dot-stuffed by libcurl).
    ///
    /// - Parameters:
    ///   - message: The complete message, headers and body, with CRLF line ends.
    ///   - from: The envelope sender (`MAIL FROM`).
    ///   - recipients: The envelope recipients (`RCPT TO`); every one must be accepted.
    /// - Returns: The server's reply to the end of the message.
    /// - Throws: ``SMTPError``: `transient` for 4xx replies, `permanent` for 5xx, `connection` when the connection
    ///   failed or timed out, `authentication` when the credentials were refused, `invalidMessage` for an address
    ///   that cannot go into an SMTP command.
    @discardableResult
    public func send(_ message: [UInt8], from: String, to recipients: [String]) throws(SMTPError) -> SMTPReply {
        guard let handle else { throw SMTPError(code: .connection, message: "the SMTP client is closed") }
        guard !recipients.isEmpty else { throw SMTPError(code: .invalidMessage, message: "no recipient") }
        for address in [from] + recipients where !Self.isSendableAddress(address) {
            throw SMTPError(code: .invalidMessage, message: "an address is empty or contains a control character, a space or <>")
        }

        var list: UnsafeMutablePointer<curl_slist>?
        defer { curl_slist_free_all(list) }
        for recipient in recipients {
            guard let appended = curl_slist_append(list, "<\(recipient)>") else {
                throw SMTPError(code: .setup, message: "curl_slist_append failed")
            }
            list = appended
        }

        errorBuffer[0] = 0
        replyBuffer.pointee = ccurl_reply()
        let status: CURLcode = message.withUnsafeBufferPointer { bytes in
            bytes.withMemoryRebound(to: CChar.self) { characters in
                var upload = ccurl_upload(data: characters.baseAddress, length: characters.count, offset: 0)
                return withUnsafeMutablePointer(to: &upload) { upload in
                    var status = ccurl_setopt_string(handle, CURLOPT_MAIL_FROM, "<\(from)>")
                    if status == CURLE_OK { status = ccurl_setopt_slist(handle, CURLOPT_MAIL_RCPT, list) }
                    if status == CURLE_OK { status = ccurl_set_upload(handle, upload) }
                    if status == CURLE_OK { status = curl_easy_perform(handle) }
                    // The list and the upload die with this call: the handle must not keep pointers to them.
                    _ = ccurl_setopt_slist(handle, CURLOPT_MAIL_RCPT, nil)
                    _ = ccurl_setopt_pointer(handle, CURLOPT_READDATA, nil)
                    return status
                }
            }
        }

        var code = 0
        _ = ccurl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &code)
        let reply = lastReply()
        guard status == CURLE_OK else {
            throw failure(status, replyCode: code == 0 ? nil : code, reply: reply)
        }
        return SMTPReply(code: code, text: reply ?? "\(code)")
    }

    // MARK: Setup

    private func configure(_ handle: UnsafeMutableRawPointer, caFile: String?, connectTimeout: Duration,
                           timeout: Duration) throws(SMTPError) {
        func check(_ status: CURLcode, _ option: String) throws(SMTPError) {
            guard status == CURLE_OK else {
                throw SMTPError(code: .setup, message: "setting \(option) failed: \(Self.text(of: status))")
            }
        }
        try check(ccurl_setopt_string(handle, CURLOPT_URL, url), "CURLOPT_URL")
        try check(ccurl_setopt_string(handle, CURLOPT_PROTOCOLS_STR, "smtp,smtps"), "CURLOPT_PROTOCOLS_STR")
        try check(ccurl_setopt_pointer(handle, CURLOPT_ERRORBUFFER, UnsafeMutableRawPointer(errorBuffer)),
                  "CURLOPT_ERRORBUFFER")
        try check(ccurl_capture_replies(handle, replyBuffer), "CURLOPT_DEBUGFUNCTION")
        // Worker threads: no SIGALRM-based DNS timeouts.
        try check(ccurl_setopt_long(handle, CURLOPT_NOSIGNAL, 1), "CURLOPT_NOSIGNAL")
        try check(ccurl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, Self.milliseconds(connectTimeout)),
                  "CURLOPT_CONNECTTIMEOUT_MS")
        try check(ccurl_setopt_long(handle, CURLOPT_TIMEOUT_MS, Self.milliseconds(timeout)), "CURLOPT_TIMEOUT_MS")
        try check(ccurl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1), "CURLOPT_TCP_KEEPALIVE")
        if let caFile {
            try check(ccurl_setopt_string(handle, CURLOPT_CAINFO, caFile), "CURLOPT_CAINFO")
        }
        switch security {
        case .opportunisticSTARTTLS:
            try check(ccurl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_TRY.rawValue)), "CURLOPT_USE_SSL")
        case .requiredSTARTTLS:
            try check(ccurl_setopt_long(handle, CURLOPT_USE_SSL, Int(CURLUSESSL_ALL.rawValue)), "CURLOPT_USE_SSL")
        case .implicitTLS:
            break
        }
    }

    private static func milliseconds(_ duration: Duration) -> Int {
        let (seconds, attoseconds) = duration.components
        return max(1, Int(seconds) * 1000 + Int(attoseconds / 1_000_000_000_000_000))
    }

    /// Addresses go into `MAIL FROM:<…>` and `RCPT TO:<…>`: nothing that could end or extend the command.
    static func isSendableAddress(_ address: String) -> Bool {
        !address.isEmpty && address.contains("@")
            && !address.unicodeScalars.contains { scalar in
                scalar.value < 0x21 || scalar.value == 0x7F || scalar == "<" || scalar == ">"
            }
    }

    // MARK: Errors

    private func lastReply() -> String? {
        let text = withUnsafeBytes(of: &replyBuffer.pointee.text) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        return text.isEmpty ? nil : text
    }

    private func failure(_ status: CURLcode, replyCode: Int?, reply: String?) -> SMTPError {
        var message = String(cString: errorBuffer)
        if message.isEmpty { message = Self.text(of: status) }
        if let password, !password.isEmpty {
            message = message.replacingOccurrences(of: password, with: "***")
        }
        let code: SMTPError.Code
        switch status {
        case CURLE_LOGIN_DENIED:
            code = .authentication
        case CURLE_COULDNT_CONNECT, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY, CURLE_OPERATION_TIMEDOUT,
            CURLE_SEND_ERROR, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION,
            CURLE_USE_SSL_FAILED, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            // A reply code here belongs to an earlier, successful step; what failed is the connection.
            code = replyCode.map { $0 >= 400 } == true ? SMTPError.code(forReply: replyCode) : .connection
        default:
            code = SMTPError.code(forReply: replyCode)
        }
        return SMTPError(code: code, replyCode: replyCode, reply: reply, message: message)
    }

    private static func text(of status: CURLcode) -> String {
        String(cString: curl_easy_strerror(status))
    }
}
