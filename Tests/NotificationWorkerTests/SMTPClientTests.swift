import Foundation
import Mail
import Shared
import TestSupport
import Testing

/// The libcurl SMTP client against real servers: STARTTLS, implicit TLS, AUTH from the URL, connection reuse, and
/// how failures are classified.
@Suite(.notificationIntegration, .serialized)
struct SMTPClientTests {
    static let message = Array("Subject: test\r\nMessage-ID: <t@schoolict.invalid>\r\n\r\nbody\r\n.leading dot\r\n".utf8)

    /// A self-signed certificate for 127.0.0.1 and a TLS sink (scripts/smtp_sink_tls.py) in a temporary folder.
    final class TLSSink {
        let directory: URL
        let port: Int
        let certificate: String
        private var process: Process?

        init(mode: String, user: String, password: String) throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("notify-tls-" + TestEnvironment.randomSuffix())
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            certificate = directory.appendingPathComponent("cert.pem").path
            let key = directory.appendingPathComponent("key.pem").path
            let generated = try Run.capture("/usr/bin/openssl", [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days", "1",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
            ])
            guard generated.status == 0 else { throw HarnessError("openssl failed: \(generated.output)") }
            port = try SMTPSink.freePort()
            let process = Run.unmasked("/usr/bin/python3", [
                TestEnvironment.packageRoot.appendingPathComponent("scripts/smtp_sink_tls.py").path,
                "--port", "\(port)", "--dir", directory.appendingPathComponent("mail").path, "--cert", certificate,
                "--key", key, "--mode", mode, "--user", user, "--password", password,
            ])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process = process
            let deadline = Date().addingTimeInterval(15)
            while !SMTPSink.accepts(port: port) {
                guard Date() < deadline else { throw HarnessError("the TLS sink did not start") }
                Thread.sleep(forTimeInterval: 0.05)
            }
        }

        /// The stored messages' sink headers (`X-Sink-TLS`, `X-Sink-Auth`, `X-Sink-Session`) in arrival order.
        func received() throws -> [[String: String]] {
            let folder = directory.appendingPathComponent("mail")
            let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
            return try names.filter { $0.hasSuffix(".eml") && !$0.hasPrefix(".") }.sorted().map { name in
                let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
                var headers: [String: String] = [:]
                for line in text.components(separatedBy: "\r\n") where line.hasPrefix("X-Sink-") {
                    let parts = line.split(separator: ":", maxSplits: 1)
                    headers[String(parts[0])] = parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""
                }
                headers["Body-Has-Leading-Dot"] = text.contains("\r\n.leading dot\r\n") ? "yes" : "no"
                return headers
            }
        }

        func stop() {
            if let process { Run.stop(process) }
            process = nil
            try? FileManager.default.removeItem(at: directory)
        }
    }

    @Test func startTLSWithCredentialsFromTheURLAndOneConnectionForManyMessages() throws {
        let sink = try TLSSink(mode: "starttls", user: "relay@school.example", password: "p@ss:w/rd")
        defer { sink.stop() }
        // Userinfo is percent-encoded in the URL; libcurl decodes it for AUTH.
        let client = try SMTPClient(url: "smtp://relay%40school.example:p%40ss%3Aw%2Frd@127.0.0.1:\(sink.port)/schoolict.invalid",
                                    caFile: sink.certificate)
        defer { client.close() }
        #expect(client.security == .requiredSTARTTLS)
        for _ in 0..<3 {
            let reply = try client.send(Self.message, from: "noreply@schoolict.invalid", to: ["mail@0551010.sch.gr"])
            #expect(reply.code == 250)
        }
        let received = try sink.received()
        #expect(received.count == 3)
        #expect(received.allSatisfy { $0["X-Sink-TLS"] == "yes" && $0["X-Sink-Auth"] == "relay@school.example" })
        #expect(Set(received.map { $0["X-Sink-Session"] }).count == 1, "one connection, reused")
        #expect(received.allSatisfy { $0["Body-Has-Leading-Dot"] == "yes" }, "dot-stuffing round trip")
    }

    @Test func credentialsAreNeverSentToAServerWithoutTLS() throws {
        // The server offers AUTH in clear and would accept these credentials: the client must not use them.
        let sink = try TLSSink(mode: "plain-auth", user: "u", password: "never-in-clear")
        defer { sink.stop() }
        let client = try SMTPClient(url: "smtp://u:never-in-clear@127.0.0.1:\(sink.port)", caFile: sink.certificate)
        defer { client.close() }
        #expect(client.security == .requiredSTARTTLS)
        let refused = #expect(throws: SMTPError.self) {
            try client.send(Self.message, from: "noreply@schoolict.invalid", to: ["a@b.example"])
        }
        #expect(refused?.code == .connection)
        #expect(refused?.description.contains("never-in-clear") == false)
        #expect(try sink.received().isEmpty)
        // Without credentials the same server is used as it is (nothing secret to protect).
        let anonymous = try SMTPClient(url: "smtp://127.0.0.1:\(sink.port)")
        defer { anonymous.close() }
        #expect(anonymous.security == .opportunisticSTARTTLS)
    }

    @Test func implicitTLS() throws {
        let sink = try TLSSink(mode: "smtps", user: "u", password: "secret")
        defer { sink.stop() }
        let client = try SMTPClient(url: "smtps://u:secret@127.0.0.1:\(sink.port)", caFile: sink.certificate)
        defer { client.close() }
        #expect(client.security == .implicitTLS)
        try client.send(Self.message, from: "noreply@schoolict.invalid", to: ["a@b.example"])
        let received = try sink.received()
        #expect(received.first?["X-Sink-TLS"] == "yes")
        #expect(received.first?["X-Sink-Auth"] == "u")
    }

    @Test func refusedCredentialsAndAnUntrustedCertificateAreRetryableAndNameNoPassword() throws {
        let sink = try TLSSink(mode: "starttls", user: "u", password: "right")
        defer { sink.stop() }
        let wrong = try SMTPClient(url: "smtp://u:wrong-secret@127.0.0.1:\(sink.port)", caFile: sink.certificate)
        defer { wrong.close() }
        let denied = #expect(throws: SMTPError.self) {
            try wrong.send(Self.message, from: "noreply@schoolict.invalid", to: ["a@b.example"])
        }
        #expect(denied?.code == .authentication)
        #expect(denied?.isRetryable == true)
        #expect(denied?.description.contains("wrong-secret") == false)

        // Without the CA, the self-signed certificate is refused: TLS is verified, never skipped.
        let untrusting = try SMTPClient(url: "smtp://u:right@127.0.0.1:\(sink.port)")
        defer { untrusting.close() }
        let refused = #expect(throws: SMTPError.self) {
            try untrusting.send(Self.message, from: "noreply@schoolict.invalid", to: ["a@b.example"])
        }
        #expect(refused?.code == .connection)
        #expect(try sink.received().isEmpty)
    }

    @Test func noServerIsAConnectionErrorWithoutAReplyCode() throws {
        let client = try SMTPClient(url: "smtp://127.0.0.1:\(try SMTPSink.freePort())", connectTimeout: .seconds(2))
        defer { client.close() }
        let error = #expect(throws: SMTPError.self) {
            try client.send(Self.message, from: "noreply@schoolict.invalid", to: ["a@b.example"])
        }
        #expect(error?.code == .connection)
        #expect(error?.replyCode == nil)
        #expect(error?.isRetryable == true)
    }

    @Test func addressesThatCouldInjectCommandsAreRefusedBeforeConnecting() throws {
        let client = try SMTPClient(url: "smtp://127.0.0.1:1")
        defer { client.close() }
        for address in ["a@b\r\nRCPT TO:<x@y>", "<a@b>", "no-at-sign", ""] {
            let error = #expect(throws: SMTPError.self) {
                try client.send(Self.message, from: "noreply@schoolict.invalid", to: [address])
            }
            #expect(error?.code == .invalidMessage)
        }
        #expect(throws: SMTPError.self) { try SMTPClient(url: "http://127.0.0.1") }
    }
}
