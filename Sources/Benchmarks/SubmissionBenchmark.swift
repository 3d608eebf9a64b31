import ArgumentParser
import Foundation
import Shared
import Synchronization

/// Publishes N `equipment_inventory` messages of 10 items each to a running SubmissionWorker and measures
/// its sustained throughput (publish of the first to outcome of the last), the end-to-end latency
/// (publish → outcome event) and the worker's peak RSS.
struct SubmissionBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "submissions")

    @Option(help: "Messages to publish.") var count = 50_000
    @Option(help: "Schools to spread them over.") var schools = 1_000
    @Option(help: "PID of the SubmissionWorker, for its peak RSS.") var workerPid: Int32?
    @Option(help: "Publish rate limit in msg/s (0 = as fast as the broker confirms).") var rate = 0

    func run() throws {
        let configuration = try Configuration()
        let url = try AMQPURL(parsing: configuration.amqpURL)
        let setup = try AMQPConnection(url: url)
        try setup.declare(.contract)
        try setup.enableConfirms()
        let runID = String(UUID().uuidString.prefix(8)).lowercased()

        let watcher = try AMQPConnection(url: url)
        let outcomes = try watcher.declareTemporaryQueue(bindingTo: Topology.Exchange.events,
                                                         routingKeys: ["submission.#", "command.#"])
        try watcher.startConsuming(queue: outcomes, prefetch: 2_000)
        let campaign = try BenchRegistry.register(runID: runID, schools: schools, publisher: setup, watcher: watcher)

        // The messages, built before timing starts.
        let messages = InventoryMessages.make(campaign: campaign, runID: runID, range: 0..<count, schools: schools)
        let averageSize = messages.reduce(0) { $0 + $1.body.count } / max(1, messages.count)
        let workerCPUBefore = workerPid.flatMap { cpuSeconds(pid: $0) }

        // Publisher on its own thread; this thread collects outcomes.
        let publishTimes = Mutex<[Double]>(Array(repeating: 0, count: count))
        let publishDone = Mutex<Double?>(nil)
        let origin = ContinuousClock.now
        @Sendable func elapsed() -> Double {
            let (seconds, attoseconds) = (ContinuousClock.now - origin).components
            return Double(seconds) + Double(attoseconds) / 1e18
        }
        let rate = rate
        let publisher = Thread {
            do {
                let connection = try AMQPConnection(url: url)
                try connection.enableConfirms()
                let window = 200
                var index = 0
                while index < messages.count {
                    let end = min(messages.count, index + window)
                    let now = elapsed()
                    publishTimes.withLock { times in for i in index..<end { times[i] = now } }
                    for i in index..<end { try connection.publish(messages[i]) }
                    try connection.waitForConfirms()
                    index = end
                    if rate > 0 {
                        let due = Double(index) / Double(rate)
                        if due > elapsed() { Thread.sleep(forTimeInterval: due - elapsed()) }
                    }
                }
                publishDone.withLock { $0 = elapsed() }
                connection.close()
            } catch {
                print("publisher failed: \(error)")
                publishDone.withLock { $0 = -1 }
            }
        }
        publisher.start()

        var latencies: [Double] = []
        latencies.reserveCapacity(count)
        var seen = Set<Int>()
        var accepted = 0
        var lastOutcome = 0.0
        let prefix = "\(campaign)-"
        var idle = 0
        while seen.count < count, idle < 60 {
            guard let delivery = try watcher.nextDelivery(timeout: .seconds(1)) else {
                idle += 1
                continue
            }
            idle = 0
            let now = elapsed()
            try watcher.ack(delivery.deliveryTag)
            guard let id = delivery.correlationID, id.hasPrefix(prefix), let index = Int(id.dropFirst(prefix.count)),
                  seen.insert(index).inserted else { continue }
            if delivery.routingKey.hasPrefix("submission.accepted") { accepted += 1 }
            latencies.append(now - publishTimes.withLock { $0[index] })
            lastOutcome = now
        }
        // The last outcome can arrive before the publisher has read its last confirm.
        var waited = 0
        while publishDone.withLock({ $0 }) == nil, waited < 100 {
            Thread.sleep(forTimeInterval: 0.05)
            waited += 1
        }
        let published = publishDone.withLock { $0 } ?? .nan
        let workerCPU = workerPid.flatMap { pid in workerCPUBefore.flatMap { before in cpuSeconds(pid: pid).map { $0 - before } } }
        watcher.close()
        setup.close()
        latencies.sort()
        let throughput = Double(seen.count) / lastOutcome
        print("""
            submissions benchmark: \(count) equipment_inventory messages x 10 items (\(averageSize) bytes each), \(schools) schools
              outcomes received      \(seen.count) (\(accepted) accepted)
              publish finished at    \(String(format: "%.2f", published)) s (\(String(format: "%.0f", Double(count) / published)) msg/s with confirms)
              last outcome at        \(String(format: "%.2f", lastOutcome)) s
              worker throughput      \(String(format: "%.0f", throughput)) msg/s (first publish to last outcome)
              latency p50 / p99      \(String(format: "%.1f", percentile(latencies, 50) * 1000)) ms / \(String(format: "%.1f", percentile(latencies, 99) * 1000)) ms
              worker CPU time        \(workerCPU.map { String(format: "%.2f s (%.0f%% of one core while running; %.0f µs per message)", $0, 100 * $0 / lastOutcome, 1e6 * $0 / Double(count)) } ?? "n/a")
              worker peak RSS        \(workerPid.flatMap { peakRSS(pid: $0) }.map { String(format: "%.1f MiB", $0) } ?? "n/a (pass --worker-pid)")
              benchmark peak RSS     \(peakRSS().map { String(format: "%.1f MiB", $0) } ?? "n/a")
            """)
        if seen.count < count { throw ExitCode(1) }
    }
}
