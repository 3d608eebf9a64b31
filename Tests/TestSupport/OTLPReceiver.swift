import Foundation

/// A tiny OTLP/HTTP receiver on a free loopback port: a Python `http.server` (its own process, so it never waits
/// for this test process's threads) that answers every POST with an empty protobuf and records its body; the
/// spans are decoded here from the OTLP protobuf (`ExportTraceServiceRequest`).
public final class OTLPReceiver {
    /// A span as exported.
    public struct ExportedSpan: CustomStringConvertible {
        public var serviceName: String?
        public var traceID: String
        public var spanID: String
        public var parentSpanID: String
        public var name: String
        public var attributes: [String: String]
        public var links: [(traceID: String, spanID: String)]

        public var description: String { "\(name) trace \(traceID) span \(spanID) parent \(parentSpanID)" }
    }

    static let script = """
        import gzip, http.server, sys
        out = sys.argv[1]
        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', '0')))
                if self.headers.get('Content-Encoding') == 'gzip':
                    body = gzip.decompress(body)
                with open(out, 'a') as f:
                    f.write(self.path + ' ' + body.hex() + '\\n')
                self.send_response(200)
                self.send_header('Content-Type', 'application/x-protobuf')
                self.send_header('Content-Length', '0')
                self.end_headers()
            def log_message(self, *args):
                pass
        server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Receiver)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    public let port: Int
    private let process: Process
    private let output: URL

    public init() throws {
        output = FileManager.default.temporaryDirectory.appendingPathComponent("otlp-\(UUID().uuidString).txt")
        guard FileManager.default.createFile(atPath: output.path, contents: nil) else {
            throw HarnessError("cannot create \(output.path)")
        }
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script, output.path]
        let stdout = Pipe()
        process.standardOutput = stdout
        try process.run()
        var line = Data()
        let deadline = ContinuousClock.now + .seconds(10)
        while !line.contains(UInt8(ascii: "\n")), ContinuousClock.now < deadline {
            let chunk = stdout.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw HarnessError("the OTLP receiver did not start")
        }
        self.port = port
    }

    public var endpoint: String { "http://127.0.0.1:\(port)" }

    /// The request paths seen and every span received so far.
    public func received() throws -> (paths: [String], spans: [ExportedSpan]) {
        var paths: [String] = []
        var spans: [ExportedSpan] = []
        for line in try String(contentsOf: output, encoding: .utf8).split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            paths.append(String(parts[0]))
            spans += Self.spans(in: Self.bytes(hex: parts.count > 1 ? parts[1] : ""))
        }
        return (paths, spans)
    }

    /// Waits up to `timeout` for a span `matching`.
    public func awaitSpan(timeout: Duration = .seconds(20), matching: (ExportedSpan) -> Bool) throws -> ExportedSpan? {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let span = try received().spans.first(where: matching) { return span }
            Thread.sleep(forTimeInterval: 0.2)
        }
        return nil
    }

    /// Kills the receiver (SIGKILL: a test process may ignore SIGTERM, and its children inherit that).
    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: output)
    }

    // MARK: - OTLP protobuf, as much as the tests read

    private static func spans(in request: [UInt8]) -> [ExportedSpan] {
        var result: [ExportedSpan] = []
        for resourceSpans in fields(request[...]) where resourceSpans.number == 1 {
            var serviceName: String?
            for field in fields(resourceSpans.bytes) where field.number == 1 {
                serviceName = keyValues(field.bytes)["service.name"] ?? serviceName
            }
            for scopeSpans in fields(resourceSpans.bytes) where scopeSpans.number == 2 {
                for span in fields(scopeSpans.bytes) where span.number == 2 {
                    var exported = ExportedSpan(serviceName: serviceName, traceID: "", spanID: "", parentSpanID: "",
                                                name: "", attributes: [:], links: [])
                    for field in fields(span.bytes) {
                        switch field.number {
                        case 1: exported.traceID = hex(field.bytes)
                        case 2: exported.spanID = hex(field.bytes)
                        case 4: exported.parentSpanID = hex(field.bytes)
                        case 5: exported.name = String(decoding: field.bytes, as: UTF8.self)
                        case 13:
                            let link = fields(field.bytes)
                            exported.links.append((hex(link.first { $0.number == 1 }?.bytes ?? []),
                                                   hex(link.first { $0.number == 2 }?.bytes ?? [])))
                        default: break
                        }
                    }
                    exported.attributes = keyValues(span.bytes, field: 9)
                    result.append(exported)
                }
            }
        }
        return result
    }

    /// `KeyValue` entries (field `field` of a message) whose value is a string, an int or a bool, as text.
    private static func keyValues(_ message: ArraySlice<UInt8>, field number: Int = 1) -> [String: String] {
        var result: [String: String] = [:]
        for entry in fields(message) where entry.number == number {
            let parts = fields(entry.bytes)
            guard let key = parts.first(where: { $0.number == 1 }), let value = parts.first(where: { $0.number == 2 })
            else { continue }
            for any in fields(value.bytes) {
                switch any.number {
                case 1: result[String(decoding: key.bytes, as: UTF8.self)] = String(decoding: any.bytes, as: UTF8.self)
                case 2, 3: result[String(decoding: key.bytes, as: UTF8.self)] = String(any.varint)
                default: break
                }
            }
        }
        return result
    }

    private struct Field {
        var number: Int
        var bytes: ArraySlice<UInt8> = []
        var varint: UInt64 = 0
    }

    /// The fields of a protobuf message (varint, 64-bit, length-delimited and 32-bit wire types).
    private static func fields(_ message: ArraySlice<UInt8>) -> [Field] {
        var result: [Field] = []
        var index = message.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < message.endIndex {
                let byte = message[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        while index < message.endIndex, let key = varint() {
            var field = Field(number: Int(key >> 3))
            switch key & 7 {
            case 0: field.varint = varint() ?? 0
            case 1: index += 8
            case 2:
                let length = Int(varint() ?? 0)
                guard index + length <= message.endIndex else { return result }
                field.bytes = message[index..<index + length]
                index += length
            case 5: index += 4
            default: return result
            }
            result.append(field)
        }
        return result
    }

    private static func hex(_ bytes: ArraySlice<UInt8>) -> String {
        bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }

    private static func bytes(hex: Substring) -> [UInt8] {
        var result: [UInt8] = []
        var index = hex.startIndex
        while let next = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex), index < hex.endIndex {
            if let byte = UInt8(hex[index..<next], radix: 16) { result.append(byte) }
            index = next
        }
        return result
    }
}
