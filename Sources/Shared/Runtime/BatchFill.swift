/// When a batch being taken stops growing: the policy of ``ConsumerChannel/take()``, as a value.
///
/// A batch closes when full (`BATCH_SIZE`, or its bytes), `BATCH_MAX_WAIT_MS` after its first delivery, or at a
/// 2 ms pause in deliveries, so that under a steady load it does not wait to fill while a backlog still fills it.
/// While another loop of the process is still deciding an earlier batch, the batch does not close on a pause: it
/// keeps what arrives until that batch has committed (for at most twice `BATCH_MAX_WAIT_MS` after its first
/// delivery), then closes. Under a steady load the loops then take turns with batches of what arrived during the
/// other's commit, instead of committing small batches side by side: fewer transactions, round trips and acks per
/// message, and less CPU (measured at half the drain rate: 1.55–1.62 of the two cores busy against 1.69–1.77). A
/// backlog still fills a batch at once, and two full batches are decided side by side.
struct BatchFill {
    enum Step: Equatable {
        /// Full, or its time is up.
        case close
        /// Another loop is deciding: take what has arrived, otherwise wait for that loop until `until` at most.
        case holdForOthers(until: ContinuousClock.Instant)
        /// Wait this long for the next delivery; none → close.
        case waitForDelivery(Duration)
    }

    static let pause = Duration.milliseconds(2)

    let countLimit: Int
    let byteLimit: Int
    /// `BATCH_MAX_WAIT_MS` after the first delivery.
    let closesAt: ContinuousClock.Instant
    /// Twice that: the longest a batch waits for another loop's commit.
    let holdsAt: ContinuousClock.Instant
    private(set) var count: Int
    private(set) var bytes: Int

    init(firstBytes: Int, countLimit: Int, byteLimit: Int, maximumWait: Duration, now: ContinuousClock.Instant) {
        self.countLimit = countLimit
        self.byteLimit = byteLimit
        closesAt = now + maximumWait
        holdsAt = now + maximumWait * 2
        count = 1
        bytes = firstBytes
    }

    mutating func add(bytes: Int) {
        count += 1
        self.bytes += bytes
    }

    func step(now: ContinuousClock.Instant, othersDeciding: Bool) -> Step {
        guard count < countLimit, bytes < byteLimit else { return .close }
        if othersDeciding, now < holdsAt { return .holdForOthers(until: holdsAt) }
        return .waitForDelivery(min(Self.pause, max(.zero, closesAt - now)))
    }
}
