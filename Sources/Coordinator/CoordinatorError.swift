import Chain

/// The Coordinator module's one error type: a stable code and a message (never a key).
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// A job source (HyperIndex, chain logs) could not be reached.
        case discoveryUnavailable
        /// A job source answered something that is not a job list.
        case discoveryFailed

        // Providers
        /// A provider node could not be reached: connection refused or reset, timeout, or an
        /// HTTP 5xx (worth retrying; the job tracker counts it as unreachable).
        case providerUnavailable
        /// A provider node answered something it should not: an unexpected status, a malformed
        /// body, a task record or quote that does not parse.
        case providerFailed
        /// A provider node's evidence did not verify, did not bind its signer and the
        /// coordinator's nonce, or no configured policy accepts it: it gets no job.
        case providerUntrusted
        /// The coordinator's configuration file is unreadable, has an unknown key, or a value
        /// out of range; or a secret it names cannot be read.
        case configInvalid
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
