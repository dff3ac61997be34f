import ByteEncoding

/// The EVMCrypto module's one error type: a stable code and a message that never carries a key.
public struct EVMCryptoError: Error, Sendable, CustomStringConvertible {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// Bad hex, length or field encoding.
        case encoding
        /// A key or signature is invalid.
        case invalidKey
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

    /// Text that should be hex and is not.
    public init(_ error: Hex.DecodingError) { self.init(.encoding, error.message) }

    public var description: String { "\(code.rawValue): \(message)" }
}
