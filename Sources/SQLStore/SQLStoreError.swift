/// The SQLStore module's one error type: a stable code and a message that names tables,
/// columns and statements, never a bound value.
public struct SQLStoreError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// The database cannot be reached, a statement failed, or the store is closed.
        case unavailable
        /// A stored row does not decode as its column should.
        case corrupt
        /// The database is at a schema version newer than this build knows.
        case schemaTooNew
        /// A store URL or path is malformed.
        case invalidLocation
        /// A value no store can hold (a time outside the storable range).
        case outOfRange
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

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}

/// A module's error type that the store's failures are reported in: each store user (the
/// key-release service, the coordinator) keeps its one error type and maps ``SQLStoreError``
/// into it once, here.
public protocol StoreFailure: Error, Sendable {
    /// The store's failure in this module's terms.
    init(store error: SQLStoreError)
}

extension SQLStoreError: StoreFailure {
    /// The error itself.
    public init(store error: SQLStoreError) { self = error }
}
