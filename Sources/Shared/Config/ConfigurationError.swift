/// An environment variable held a value the workers cannot use.
///
/// `description` names the variable and what is wrong with it; it never repeats a connection URL, so a
/// password in one cannot reach a log.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What kind of problem the value has.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// Not a whole number where one is required.
        public static let notANumber = Code(rawValue: "not_a_number")
        /// A number outside the accepted range.
        public static let outOfRange = Code(rawValue: "out_of_range")
        /// Not an ISO 8601 timestamp with an offset.
        public static let invalidTimestamp = Code(rawValue: "invalid_timestamp")
        /// A URL with the wrong scheme, or empty.
        public static let invalidURL = Code(rawValue: "invalid_url")
        /// Any other unusable value.
        public static let invalidValue = Code(rawValue: "invalid_value")
    }

    public var code: Code
    /// The environment variable, e.g. `BATCH_SIZE`.
    public var variable: String
    /// What is wrong, for an operator; free of secrets.
    public var message: String

    public init(code: Code, variable: String, message: String) {
        self.code = code
        self.variable = variable
        self.message = message
    }

    public var description: String {
        "ConfigurationError(\(code), \(variable)): \(message)"
    }
}
