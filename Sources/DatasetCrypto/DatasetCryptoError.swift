/// The DatasetCrypto module's one error type. Messages never carry key material or plaintext.
public struct DatasetCryptoError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// The input is not in the expected format (length, header, encoding).
        case malformed
        /// Authentication failed: wrong key, tampered, reordered or truncated data.
        case authenticationFailed
        /// A key is invalid.
        case invalidKey
        /// Reading or writing a file failed.
        case io
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
