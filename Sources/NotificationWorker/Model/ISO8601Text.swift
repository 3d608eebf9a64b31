import Foundation
import Shared

/// The ISO 8601 forms the worker stores and prints.
enum ISO8601Text {
    /// `2022-01-21T21:59:59Z` (milliseconds when not zero).
    static func utc(_ date: Date) -> String { ISO8601.format(date) }
}
