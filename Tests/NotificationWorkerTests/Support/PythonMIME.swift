import Foundation

/// Parses messages with Python's `email` package (a real, independent MIME parser) and returns what it saw.
enum PythonMIME {
    static let python = "/usr/bin/python3"

    /// What the parser made of one message.
    struct Parsed: Sendable {
        var headers: [String: String]
        /// Decoded header values (RFC 2047 words resolved) by lower-cased name.
        var subject: String
        var to: [String]
        var contentTypes: [String]
        var text: String
        var html: String
        var defects: [String]
        var transferEncodings: [String]
    }

    static let script = #"""
        import email, email.policy, json, sys
        data = sys.stdin.buffer.read()
        msg = email.message_from_bytes(data, policy=email.policy.default)
        out = {"headers": {k.lower(): str(v) for k, v in msg.items()},
               "subject": str(msg["subject"]),
               "to": [a.addr_spec for a in msg["to"].addresses] if msg["to"] else [],
               "content_types": [p.get_content_type() for p in msg.walk()],
               "transfer_encodings": [str(p.get("content-transfer-encoding", "")) for p in msg.walk() if not p.is_multipart()],
               "defects": [type(d).__name__ for p in msg.walk() for d in p.defects]}
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        out["text"] = text.get_content() if text is not None else ""
        out["html"] = html.get_content() if html is not None else ""
        for name in ("subject", "to", "from"):
            h = msg[name]
            if h is not None:
                out["defects"] += [type(d).__name__ for d in h.defects]
        print(json.dumps(out))
        """#

    static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: python) }

    static func parse(_ message: [UInt8]) throws -> Parsed {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(message))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0,
              let object = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ParseFailure(message: errorText)
        }
        return Parsed(headers: object["headers"] as? [String: String] ?? [:],
                      subject: object["subject"] as? String ?? "",
                      to: object["to"] as? [String] ?? [],
                      contentTypes: object["content_types"] as? [String] ?? [],
                      text: object["text"] as? String ?? "",
                      html: object["html"] as? String ?? "",
                      defects: object["defects"] as? [String] ?? [],
                      transferEncodings: object["transfer_encodings"] as? [String] ?? [])
    }

    struct ParseFailure: Error, CustomStringConvertible {
        var message: String
        var description: String { "python email parser failed: \(message)" }
    }
}
