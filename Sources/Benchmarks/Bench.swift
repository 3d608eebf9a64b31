import ArgumentParser
import Foundation
import Shared

/// Benchmarks that print figures (never timed unit tests). See README "Performance".
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolict-bench",
        abstract: "Measure the workers against real RabbitMQ and PostgreSQL.",
        subcommands: [SubmissionBenchmark.self]
    )
}

/// Peak resident set size of a process, from /proc (VmHWM), in MiB.
func peakRSS(pid: Int32? = nil) -> Double? {
    let path = pid.map { "/proc/\($0)/status" } ?? "/proc/self/status"
    guard let status = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return nil
}

func percentile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let index = min(sorted.count - 1, max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))
    return sorted[index]
}
