/// When reminder e-mails go out: the contract's policy plus the choices it leaves open.
struct ReminderPolicy: Sendable, Equatable {
    /// Local hour (campaign time zone) at which reminders, digests and handover reminders fall due.
    var sendHour = 9
    /// The final digest goes out at `sendHour` this many days after the deadline's local day, so that it can list
    /// the schools that submitted late in the meantime.
    var finalDigestDelayDays = 1
    /// A final digest that fell due longer ago than this is not sent any more (a worker started on an old
    /// database must not mail staff about campaigns long closed).
    var finalDigestCatchUpDays = 30
    /// Digests list at most this many schools per region (the counts are always complete).
    var digestSchoolsPerRegion = 200

    static let standard = ReminderPolicy()
}
