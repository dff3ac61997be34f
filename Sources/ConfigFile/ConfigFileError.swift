/// The ConfigFile module's one error type: a stable code and a message that names the key, the
/// line, the file or the variable, never a secret's value.
public struct ConfigFileError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// The text is not YAML, or its values do not have the types the configuration expects.
        case malformed
        /// A key the configuration does not know (a typo would otherwise drop a setting silently).
        case unknownKey
        /// A secret could not be read: the file is missing or unreadable, too open, or the
        /// variable is not set.
        case secretUnavailable
    }

    /// The code.
    public let code: Code
    /// The explanation.
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
