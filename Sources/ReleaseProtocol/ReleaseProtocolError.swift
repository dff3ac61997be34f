/// The ReleaseProtocol module's one error type: a stable code and a message that never carries
/// key material.
public struct ReleaseProtocolError: Error, Sendable, CustomStringConvertible {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// HPKE sealing failed (the sender's side).
        case sealingFailed
        /// A sealed key does not open under this key and context, or holds the wrong length.
        case sealedKeyInvalid
        /// A protocol message (a result manifest, a node quote) is not well formed: a field of
        /// the wrong length, not hex, or missing.
        case malformed
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
