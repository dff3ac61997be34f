import Chain
import SQLStore

/// The Coordinator module's one error type: a stable code and a message (never a key).
public struct CoordinatorError: Error, Sendable, CustomStringConvertible {
    /// Stable codes.
    public enum Code: String, Sendable {
        /// A job source (HyperIndex, chain logs) could not be reached.
        case discoveryUnavailable
        /// A job source answered something that is not a job list.
        case discoveryFailed
        // Store
        /// The coordinator's store cannot be reached, or a statement failed.
        case storeUnavailable
        /// A stored row does not decode.
        case storeCorrupt
        /// An internal failure (encoding).
        case internalError

        // Operators
        /// An operator named a job the store does not know.
        case jobUnknown
        /// An operator asked to retry a job that is settled or settling, or to fail one that is
        /// settled or whose settlement transaction was already sent.
        case jobSettled
        /// An operator's argument is malformed: a job id that is not 0x and 64 hex digits, a
        /// reason that is not 1–200 printable ASCII characters.
        case invalidArgument

        // Settlement
        /// The key-release service did not answer an audit lookup (or answered nonsense).
        case keyReleaseUnavailable
        /// The model storage could not be asked whether a result exists.
        case storageUnavailable
        /// A chain call (read or transaction) failed.
        case chainUnavailable

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

    /// `code: message`.
    public var description: String { "\(code.rawValue): \(message)" }
}

extension CoordinatorError: StoreFailure {
    /// The store's failure in the coordinator's terms.
    public init(store error: SQLStoreError) {
        switch error.code {
        case .unavailable: self.init(.storeUnavailable, error.message)
        case .corrupt: self.init(.storeCorrupt, error.message)
        case .schemaTooNew, .invalidLocation: self.init(.configInvalid, error.message)
        case .outOfRange: self.init(.internalError, error.message)
        }
    }
}
