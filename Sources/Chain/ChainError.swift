import ByteEncoding
import EVMCrypto

/// The Chain module's one error type: a stable code and an operator-facing message (never a key).
public struct ChainError: Error, Sendable, CustomStringConvertible {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// Bad hex, RLP or ABI encoding.
        case encoding
        /// A key or signature is invalid.
        case invalidKey
        /// The JSON-RPC endpoint could not be reached or answered garbage (retried).
        case rpcUnavailable
        /// The JSON-RPC endpoint answered with an error object.
        case rpcError
        /// A transaction or call reverted (message: the decoded reason).
        case reverted
        /// Waiting for a receipt timed out.
        case timeout
        /// Nonce trouble (too low, replaced, gap).
        case nonce
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

extension ChainError {
    /// A key, signature or address problem from ``EVMCrypto``, kept under its code.
    public init(_ error: EVMCryptoError) {
        self.init(error.code == .invalidKey ? .invalidKey : .encoding, error.message)
    }

    /// Text that should be hex and is not.
    public init(_ error: Hex.DecodingError) { self.init(.encoding, error.message) }
}

/// Runs an ``EVMCrypto`` call, keeping its failure under ``ChainError``.
func evm<T>(_ body: () throws(EVMCryptoError) -> T) throws(ChainError) -> T {
    do { return try body() } catch { throw ChainError(error) }
}
