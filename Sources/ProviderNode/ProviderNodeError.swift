/// The one error type of the ProviderNode module.
public struct ProviderNodeError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable, Codable {
        /// The TPM (or swtpm) could not be reached or initialised.
        case tpmUnavailable
        /// A TPM command failed; the message carries the decoded TSS2 response code.
        case tpmCommandFailed
        /// An argument was out of range (PCR index, nonce size, …).
        case invalidArgument
    }

    /// The stable code.
    public let code: Code
    /// Operator-facing explanation (never key material).
    public let message: String

    /// Creates an error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
