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
        /// The key-release service could not be reached, or answered something that is not its
        /// protocol (retry later).
        case releaseUnavailable
        /// The key-release service refused the release; ``serviceCode`` says why.
        case releaseRefused
        /// The released key does not open under this node's key and context, or is not for the
        /// job and dataset asked for.
        case releaseInvalid
        /// The evidence source could not produce evidence for the binding.
        case evidenceUnavailable
    }

    /// The stable code.
    public let code: Code
    /// Operator-facing explanation (never key material).
    public let message: String
    /// For ``Code/releaseRefused``: the service's code (`ak_untrusted`, `nonce_used`, …) and
    /// HTTP status.
    public let serviceCode: String?
    /// The HTTP status of a refusal.
    public let httpStatus: Int?

    /// Creates an error.
    public init(_ code: Code, _ message: String, serviceCode: String? = nil, httpStatus: Int? = nil) {
        self.code = code
        self.message = message
        self.serviceCode = serviceCode
        self.httpStatus = httpStatus
    }

    public var description: String { "\(code.rawValue): \(message)" }
}
