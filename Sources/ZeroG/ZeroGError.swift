/// The ZeroG module's one error type: a stable code and an operator-facing message (never key
/// material or dataset bytes).
public struct ZeroGError: Error, Sendable, CustomStringConvertible {
    /// Stable error codes.
    public enum Code: String, Sendable {
        /// 0G Storage takes no empty file.
        case emptyFile
        /// A file could not be read or written.
        case io
        /// A segment or proof does not match the root.
        case proofInvalid
        /// A storage node or indexer answered with an error or something unreadable.
        case nodeError
        /// No node holds the file, or the file is not finalized.
        case notFound
        /// Network trouble reaching a node or the indexer.
        case unavailable
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
