import Foundation
import SQLStore

/// A connection of the key-release store, failing in ``KeyReleaseError``.
typealias StoreSession = SQLSession<KeyReleaseError>
/// A row of the key-release store, failing in ``KeyReleaseError``.
typealias StoreRow = SQLRow<KeyReleaseError>

extension KeyReleaseError: StoreFailure {
    /// The store's failure as the service reports it: unreachable → `.storeUnavailable` (503),
    /// undecodable → `.storeCorrupt`, a malformed URL or a newer schema → `.configInvalid`.
    public init(store error: SQLStoreError) {
        switch error.code {
        case .unavailable: self.init(.storeUnavailable, error.message)
        case .corrupt: self.init(.storeCorrupt, error.message)
        case .schemaTooNew, .invalidLocation: self.init(.configInvalid, error.message)
        case .outOfRange: self.init(.internalError, error.message)
        }
    }
}

/// Advisory lock keys that serialize writers across replicas (PostgreSQL), each naming what it
/// guards. SQLite takes its one database-wide write lock (`BEGIN IMMEDIATE`) instead.
enum StoreLock: Int64, Sendable {
    /// Schema migrations ("licenmig").
    case migrations = 0x6C69_6365_6E6D_6967
    /// The audit chain head ("licenaud").
    case auditHead = 0x6C69_6365_6E61_7564
}

extension StoreSession {
    /// Runs `body` in a write transaction holding `lock` (see ``SQLSession/exclusiveTransaction(lockKey:_:)``).
    func exclusiveTransaction<T>(_ lock: StoreLock, _ body: (Self) async throws(KeyReleaseError) -> T) async throws(KeyReleaseError) -> T {
        try await exclusiveTransaction(lockKey: lock.rawValue, body)
    }

    /// `date` in stored milliseconds; `.internalError` for a date no store can hold.
    static func millis(_ date: Date) throws(KeyReleaseError) -> Int64 {
        do { return try StoreTime.millis(date) } catch { throw KeyReleaseError(store: error) }
    }
}
