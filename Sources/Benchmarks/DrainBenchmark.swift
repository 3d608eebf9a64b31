import ArgumentParser
import Foundation
import Shared
import Synchronization

/// The SubmissionWorker draining a queue published before it starts (so the benchmark's publishing does not compete
/// for the cores), then end-to-end latency at a paced load of half the drain rate; with the CPU each process spent
/// per message (worker, RabbitMQ, PostgreSQL, from `/proc`), to hold the figure against the machine's limit.
struct DrainBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submissions-drain",
        abstract: "Pre-published queue drained by a SubmissionWorker the benchmark starts: msg/s, latency at half rate, CPU split.")

    @Option(help: "Messages to pre-publish.") var count = 30_000
    @Option(help: "Schools to spread them over.") var schools = 1_000
    @Option(help: "The SubmissionWorker executable (started and stopped by the benchmark, with this environment).")
    var worker: String
    @Option(help: "PID of RabbitMQ (beam.smp), for its CPU time.") var rabbitmqPid: Int32?
    @Option(help: "PID of the PostgreSQL postmaster, for its and its backends' CPU time.") var postgresPid: Int32?
    @Option(help: "Seconds of paced load for the latency figures (0 = skip); a p99 for every 10 s of it too.")
    var pacedSeconds = 30
    @Option(help: "Rate of the paced load, msg/s (0 = half the drain rate); repeat it for a line per rate.")
    var pacedRate: [Int] = [0]

    /// The watcher acknowledges outcomes in groups (`multiple`), as a portal consuming at volume would: acking each one
    /// alone would add the benchmark's own broker work to the figures.
    static let ackEvery = 200
    /// The paced load's latency is also given per this many seconds of it: one stall of ~100 ms (500 messages at
    /// 5,000 msg/s) is 1% of ten seconds, so a single window's p99 swings with it; the spread tells how much.
    static let windowSeconds = 10

    func run() throws {
        let configuration = try Configuration()
        let url = try BrokerEndpoints(configuration.amqpURL, shuffle: false).urls[0]  // the first node of a list
        let publisher = try AMQPConnection(url: url)
        try publisher.declare(.contract)
        try publisher.enableConfirms()
        let watcher = try AMQPConnection(url: url)
        let outcomes = try watcher.declareTemporaryQueue(bindingTo: Topology.Exchange.events,
                                                         routingKeys: ["submission.#", "command.#"])
        try watcher.startConsuming(queue: outcomes, prefetch: 2_000)
        let runID = String(UUID().uuidString.prefix(8)).lowercased()

        // The registry through a first worker, which then stops: the queue fills with nobody consuming.
        var process = try startWorker()
        let campaign = try BenchRegistry.register(runID: runID, schools: schools, publisher: publisher, watcher: watcher)
        stopWorker(process)
        let messages = InventoryMessages.make(campaign: campaign, runID: runID, range: 0..<count, schools: schools)
        let publishStart = ContinuousClock.now
        try publisher.publishConfirmed(messages, window: 1_000, timeout: .seconds(120))
        let publishTime = seconds(ContinuousClock.now - publishStart)
        print("pre-published \(count) inventories in \(format(publishTime)) s")
        fflush(nil)  // out now, also when written into a file (a script may wait for this line)

        // The drain.
        let brokerBefore = rabbitmqPid.flatMap(cpuSeconds(pid:))
        let databaseBefore = postgresPid.flatMap(cpuSecondsWithChildren(pid:))
        let started = ContinuousClock.now
        process = try startWorker()
        let prefix = "\(campaign)-"
        var seen = Set<Int>()
        var duplicates = 0  // the same outcome event twice (the relay is at-least-once; portals dedupe by id)
        var firstOutcome: ContinuousClock.Instant?
        var lastOutcome = started
        var idle = 0
        var unacked = 0
        var lastTag: UInt64?
        while seen.count < count, idle < 60 {
            guard let delivery = try watcher.nextDelivery(timeout: .seconds(1)) else { idle += 1; continue }
            idle = 0
            lastTag = delivery.deliveryTag
            unacked += 1
            if unacked == Self.ackEvery {
                try watcher.ack(delivery.deliveryTag, multiple: true)
                unacked = 0
                lastTag = nil
            }
            guard let id = delivery.correlationID, id.hasPrefix(prefix), let index = Int(id.dropFirst(prefix.count)) else {
                continue
            }
            guard seen.insert(index).inserted else { duplicates += 1; continue }
            firstOutcome = firstOutcome ?? .now
            lastOutcome = .now
        }
        if let lastTag { try watcher.ack(lastTag, multiple: true) }
        let drain = seconds(lastOutcome - started)
        let steady = seconds(lastOutcome - (firstOutcome ?? started))
        let workerCPU = cpuSeconds(pid: process.processIdentifier) ?? .nan
        let brokerCPU = rabbitmqPid.flatMap(cpuSeconds(pid:)).flatMap { after in brokerBefore.map { after - $0 } }
        let databaseCPU = postgresPid.flatMap(cpuSecondsWithChildren(pid:)).flatMap { after in databaseBefore.map { after - $0 } }
        let rate = Double(seen.count) / drain
        func perMessage(_ cpu: Double?) -> String {
            cpu.map { String(format: "%.0f µs", 1e6 * $0 / Double(count)) } ?? "n/a"
        }
        let total = [workerCPU, brokerCPU ?? 0, databaseCPU ?? 0].reduce(0, +)

        // Latency at half the drain rate (or at the rates asked for), with the CPU each process spent per message
        // meanwhile: publishing included, and in the small batches a steady load makes, unlike the drain's.
        var latencyLines: [String] = []
        var published = count
        for requested in pacedSeconds > 0 && seen.count == count ? pacedRate : [] {
            let paced = max(1, requested > 0 ? requested : Int(rate / 2))
            let before = CPUSplit(worker: process.processIdentifier, rabbitmq: rabbitmqPid, postgres: postgresPid)
            let pacedStart = ContinuousClock.now
            let (latencies, windows) = try measureLatency(rate: paced, from: published, campaign: campaign,
                                                          runID: runID, publisher: publisher, watcher: watcher)
            let pacedTime = seconds(ContinuousClock.now - pacedStart)
            let used = CPUSplit(worker: process.processIdentifier, rabbitmq: rabbitmqPid, postgres: postgresPid) - before
            published += paced * pacedSeconds
            let label = requested > 0 ? "latency, paced at    " : "latency at half rate,"
            let ms = [50.0, 90, 99].map { percentile(latencies, $0) * 1000 }
            latencyLines.append(label + String(format: " %5d msg/s: p50 %.1f ms, p90 %.1f ms, p99 %.1f ms (%d messages)\n",
                                               paced, ms[0], ms[1], ms[2], latencies.count)
                                + (windows.count > 1 ? "  p99 per \(Self.windowSeconds) s         "
                                    + windows.map { String(format: "%.1f", percentile($0, 99) * 1000) }.joined(separator: " · ")
                                    + " ms (a stall of a tenth of a second moves one window's p99)\n" : "")
                                + "  CPU meanwhile        " + used.line(messages: latencies.count, seconds: pacedTime) + "\n"
                                + "  the load alone       " + loadAlone(rate: paced, campaign: campaign, runID: runID,
                                                                        publisher: publisher,
                                                                        worker: process.processIdentifier))
        }
        let peak = peakRSS(pid: process.processIdentifier)
        stopWorker(process)
        publisher.close()
        watcher.close()
        print("""
            submissions drain: \(count) pre-published equipment_inventory messages x 10 items, one SubmissionWorker
              outcomes received      \(seen.count) (and \(duplicates) duplicate deliveries)
              drained in             \(format(drain)) s: \(String(format: "%.0f", rate)) msg/s (worker start to last outcome; \(String(format: "%.0f", Double(seen.count) / steady)) msg/s first to last outcome)
              CPU per message        worker \(perMessage(workerCPU)), RabbitMQ \(perMessage(brokerCPU)), PostgreSQL \(perMessage(databaseCPU)); \
            all \(perMessage(total)): \(String(format: "%.2f", total / drain)) of the machine's \(ProcessInfo.processInfo.activeProcessorCount) cores busy on average
            """)
        for line in latencyLines { print(line.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n")) }
        print("  worker peak RSS        \(peak.map { String(format: "%.1f MiB", $0) } ?? "n/a")")
        if seen.count < count { throw ExitCode(1) }
    }

    /// Publishes at `rate` msg/s for `pacedSeconds` (messages numbered from `first`) and returns each message's
    /// publish → outcome latency, sorted, in all and per ``windowSeconds`` of publishing.
    private func measureLatency(rate: Int, from first: Int, campaign: String, runID: String, publisher: AMQPConnection,
                                watcher: AMQPConnection) throws -> (all: [Double], windows: [[Double]]) {
        let total = max(1, rate * pacedSeconds)
        let messages = InventoryMessages.make(campaign: campaign, runID: runID, range: first..<(first + total), schools: schools)
        let sentAt = Mutex<[Int: ContinuousClock.Instant]>([:])
        let pacer = try Self.pacer(messages, rate: rate) { range, now in
            sentAt.withLock { for i in range { $0[first + i] = now } }
        }
        pacer.start()
        var latencies: [Double] = []
        let windowCount = max(1, (pacedSeconds + Self.windowSeconds - 1) / Self.windowSeconds)
        var windows = [[Double]](repeating: [], count: windowCount)
        let prefix = "\(campaign)-"
        var idle = 0
        var unacked = 0
        var lastTag: UInt64?
        defer { if let lastTag { try? watcher.ack(lastTag, multiple: true) } }
        while latencies.count < total, idle < 300 {
            guard let delivery = try watcher.nextDelivery(timeout: .milliseconds(100)) else {
                if let tag = lastTag { try watcher.ack(tag, multiple: true); lastTag = nil; unacked = 0 }
                idle += 1
                continue
            }
            idle = 0
            let now = ContinuousClock.now
            lastTag = delivery.deliveryTag
            unacked += 1
            if unacked == Self.ackEvery { try watcher.ack(delivery.deliveryTag, multiple: true); lastTag = nil; unacked = 0 }
            guard let id = delivery.correlationID, id.hasPrefix(prefix), let index = Int(id.dropFirst(prefix.count)),
                  let sent = sentAt.withLock({ $0.removeValue(forKey: index) }) else { continue }
            let latency = seconds(now - sent)
            latencies.append(latency)
            windows[min(windows.count - 1, (index - first) / (rate * Self.windowSeconds))].append(latency)
        }
        return (latencies.sorted(), windows.map { $0.sorted() })
    }

    /// `RabbitMQ 80 µs, benchmark 20 µs per message (…)`: ``measureLoadAlone(rate:campaign:runID:publisher:worker:)``.
    private func loadAlone(rate: Int, campaign: String, runID: String, publisher: AMQPConnection, worker: Int32) -> String {
        let used: CPUSplit
        do {
            used = try measureLoadAlone(rate: rate, campaign: campaign, runID: runID, publisher: publisher, worker: worker)
        } catch {
            return "n/a (\(error))"
        }
        let messages = Double(max(1, rate * Self.windowSeconds))
        return "RabbitMQ \(used.rabbitmq.map { String(format: "%.0f µs", 1e6 * $0 / messages) } ?? "n/a"), "
            + String(format: "benchmark %.0f µs per message", 1e6 * used.bench / messages)
            + " (the same publishing into a quorum queue nobody consumes)"
    }

    /// A thread that publishes `messages` at `rate` msg/s on a connection of its own, in ticks of 20 (50 ticks a
    /// second at 1,000 msg/s), waiting for each tick's confirms as a portal would; `tick` is told which messages go
    /// out and when, just before they do.
    private static func pacer(_ messages: [AMQPMessage], rate: Int,
                              tick: @escaping @Sendable (Range<Int>, ContinuousClock.Instant) -> Void) throws -> Thread {
        let url = try BrokerEndpoints(try Configuration().amqpURL, shuffle: false).urls[0]
        let origin = ContinuousClock.now
        return Thread {
            do {
                let connection = try AMQPConnection(url: url)
                try connection.enableConfirms()
                let step = 20
                for start in stride(from: 0, to: messages.count, by: step) {
                    let due = origin + .seconds(Double(start) / Double(rate))
                    let wait = due - ContinuousClock.now
                    if wait > .zero { Thread.sleep(forTimeInterval: Double(wait.components.attoseconds) / 1e18 + Double(wait.components.seconds)) }
                    let range = start..<min(messages.count, start + step)
                    tick(range, ContinuousClock.now)
                    for i in range { try connection.publish(messages[i]) }
                    try connection.waitForConfirms()
                }
                connection.close()
            } catch {
                print("paced publisher failed: \(error)")
            }
        }
    }

    /// The CPU the paced load costs before the system touches it: the same inventories at the same rate, published
    /// the same way into a quorum queue of the benchmark's own that nobody consumes (the broker's ingest and
    /// confirms, and the benchmark's publishing). Returns the CPU each process spent meanwhile.
    private func measureLoadAlone(rate: Int, campaign: String, runID: String, publisher: AMQPConnection,
                                  worker: Int32) throws -> CPUSplit {
        let queue = "bench-load-alone-\(runID)-\(rate)"
        try publisher.declareQueue(queue, arguments: [("x-queue-type", .string("quorum"))])
        // Deleted once measured: its messages would otherwise sit in the broker's memory through the later rates.
        defer { try? publisher.deleteQueue(queue) }
        let count = max(1, rate * Self.windowSeconds)
        let messages = InventoryMessages.make(campaign: campaign, runID: runID, range: 0..<count, schools: schools).map {
            message in
            var message = message
            message.exchange = ""
            message.routingKey = queue
            return message
        }
        let before = CPUSplit(worker: worker, rabbitmq: rabbitmqPid, postgres: postgresPid)
        let pacer = try Self.pacer(messages, rate: rate) { _, _ in }
        pacer.start()
        while !pacer.isFinished { Thread.sleep(forTimeInterval: 0.05) }
        return CPUSplit(worker: worker, rabbitmq: rabbitmqPid, postgres: postgresPid) - before
    }

    private func startWorker() throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: worker)
        process.environment = ProcessInfo.processInfo.environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.standardError
        try process.run()
        return process
    }

    private func stopWorker(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        process.waitUntilExit()
    }

    private func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    private func format(_ value: Double) -> String { String(format: "%.2f", value) }
}

/// CPU seconds used so far by each process of a run, for the CPU each spent per message over a stretch of it.
private struct CPUSplit {
    var worker: Double
    var rabbitmq: Double?
    var postgres: Double?
    /// This benchmark: its publisher and its watcher (their broker work is in `rabbitmq`).
    var bench: Double

    init(worker: Int32, rabbitmq: Int32?, postgres: Int32?) {
        self.worker = cpuSeconds(pid: worker) ?? .nan
        self.rabbitmq = rabbitmq.flatMap(cpuSeconds(pid:))
        self.postgres = postgres.flatMap(cpuSecondsWithChildren(pid:))
        bench = cpuSeconds(pid: getpid()) ?? .nan
    }

    private init(worker: Double, rabbitmq: Double?, postgres: Double?, bench: Double) {
        self.worker = worker
        self.rabbitmq = rabbitmq
        self.postgres = postgres
        self.bench = bench
    }

    static func - (after: CPUSplit, before: CPUSplit) -> CPUSplit {
        CPUSplit(worker: after.worker - before.worker,
                 rabbitmq: after.rabbitmq.flatMap { a in before.rabbitmq.map { a - $0 } },
                 postgres: after.postgres.flatMap { a in before.postgres.map { a - $0 } },
                 bench: after.bench - before.bench)
    }

    /// `worker 60 µs, RabbitMQ 90 µs, PostgreSQL 70 µs, benchmark 20 µs; 1.50 cores busy`.
    func line(messages: Int, seconds: Double) -> String {
        func perMessage(_ cpu: Double?) -> String {
            cpu.map { String(format: "%.0f µs", 1e6 * $0 / Double(max(1, messages))) } ?? "n/a"
        }
        let total = worker + (rabbitmq ?? 0) + (postgres ?? 0) + bench
        return "worker \(perMessage(worker)), RabbitMQ \(perMessage(rabbitmq)), PostgreSQL \(perMessage(postgres)), "
            + "benchmark \(perMessage(bench)) (publishing included); "
            + String(format: "%.2f cores busy", total / seconds)
    }
}
