import ArgumentParser
import Foundation
import Shared

/// Benchmarks that print figures (never timed unit tests). See README "Performance".
@main
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schoolict-bench",
        abstract: "Measure the workers against real RabbitMQ and PostgreSQL.",
        subcommands: [SubmissionBenchmark.self, AllocationBenchmark.self, NotificationBenchmark.self]
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

/// User + system CPU seconds a process has used so far, from /proc/<pid>/stat.
func cpuSeconds(pid: Int32) -> Double? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
    return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
}
