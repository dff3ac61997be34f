import Chain

/// The Coordinator module's one error type: a stable code and a message (never a key).
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// A job source (HyperIndex, chain logs) could not be reached.
        case discoveryUnavailable
        /// A job source answered something that is not a job list.
        case discoveryFailed
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

    /// A chain call's failure while discovering jobs.
    public init(discovery error: ChainError) {
        self.init(error.code == .rpcUnavailable || error.code == .timeout ? .discoveryUnavailable : .discoveryFailed, "chain: \(error.message)")
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
