import Foundation
import SQLStore

/// The ``ReleaseStore`` over a ``SQLDatabase``: every operation is one session (one connection
/// held for it), its statements written once for both dialects in `StoreSession+Operations`.
/// ``SQLiteReleaseStore`` and ``PostgresReleaseStore`` open the two kinds of database.
///
/// Atomicity across replicas comes from the database: a nonce is consumed by one `UPDATE …
/// RETURNING`, and audit appends hold the audit-head lock (PostgreSQL `pg_advisory_xact_lock`,
/// SQLite `BEGIN IMMEDIATE`) for their transaction. Nothing is logged.
public class SQLReleaseStore: ReleaseStore, @unchecked Sendable {
    // @unchecked: the one stored property is an immutable Sendable value; the class is open
    // only for the two initialising subclasses, which add no state.
    let database: SQLDatabase

    init(database: SQLDatabase) {
        self.database = database
    }

    private func session<T: Sendable>(_ body: @escaping @Sendable (StoreSession) async throws(KeyReleaseError) -> T) async throws(KeyReleaseError) -> T {
        try await database.withSession(body)
    }

    /// Applies pending migrations; see ``ReleaseStore/migrate()``.
    @discardableResult
    public func migrate() async throws(KeyReleaseError) -> Int {
        let now = Date()
        return try await session { s throws(KeyReleaseError) in try await s.migrate(StoreMigrations.schema, now: now) }
    }

    /// The schema version in force; see ``ReleaseStore/schemaVersion()``.
    public func schemaVersion() async throws(KeyReleaseError) -> Int {
        try await session { s throws(KeyReleaseError) in try await s.schemaVersion() }
    }

    /// Runs `SELECT 1`.
    public func ping() async throws(KeyReleaseError) {
        try await session { s throws(KeyReleaseError) in try await s.ping() }
    }

    /// Records an issued nonce; see ``ReleaseStore/insertNonce(_:)``.
    public func insertNonce(_ nonce: IssuedNonce) async throws(KeyReleaseError) {
        try await session { s throws(KeyReleaseError) in try await s.insertNonce(nonce) }
    }

    /// Consumes a nonce with one `UPDATE … RETURNING`; see ``ReleaseStore/consumeNonce(_:now:)``.
    public func consumeNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceConsumption {
        try await session { s throws(KeyReleaseError) in try await s.consumeNonce(nonce, now: now) }
    }

    /// Reads a nonce's state; see ``ReleaseStore/lookUpNonce(_:now:)``.
    public func lookUpNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceState {
        try await session { s throws(KeyReleaseError) in try await s.lookUpNonce(nonce, now: now) }
    }

    /// Consumes a nonce and appends a record in one transaction holding the audit-head lock;
    /// see ``ReleaseStore/consumeNonce(_:now:appending:)``.
    public func consumeNonce(_ nonce: [UInt8], now: Date, appending draft: AuditDraft) async throws(KeyReleaseError) -> NonceSpend {
        try await session { s throws(KeyReleaseError) in try await s.consumeNonce(nonce, now: now, appending: draft) }
    }

    /// Stores or replaces an escrow entry; see ``ReleaseStore/putEscrow(_:)``.
    public func putEscrow(_ entry: EscrowEntry) async throws(KeyReleaseError) {
        try await session { s throws(KeyReleaseError) in try await s.putEscrow(entry) }
    }

    /// Deletes expired nonces; see ``ReleaseStore/purgeNonces(expiredBefore:)``.
    @discardableResult
    public func purgeNonces(expiredBefore cutoff: Date) async throws(KeyReleaseError) -> Int {
        try await session { s throws(KeyReleaseError) in try await s.purgeNonces(expiredBefore: cutoff) }
    }

    /// The escrow entry for a dataset root; see ``ReleaseStore/escrow(datasetRoot:)``.
    public func escrow(datasetRoot: [UInt8]) async throws(KeyReleaseError) -> EscrowEntry? {
        try await session { s throws(KeyReleaseError) in try await s.escrow(datasetRoot: datasetRoot) }
    }

    /// Appends to the audit chain holding the audit-head lock; see ``ReleaseStore/appendAudit(_:)``.
    public func appendAudit(_ draft: AuditDraft) async throws(KeyReleaseError) -> AuditRecord {
        let now = Date()
        return try await session { s throws(KeyReleaseError) in try await s.appendAudit(draft, now: now) }
    }

    /// The audit record with this hash; see ``ReleaseStore/auditRecord(hash:)``.
    public func auditRecord(hash: [UInt8]) async throws(KeyReleaseError) -> AuditRecord? {
        try await session { s throws(KeyReleaseError) in try await s.auditRecord(hash: hash) }
    }

    /// A page of the audit chain; see ``ReleaseStore/auditRecords(afterSequence:limit:)``.
    public func auditRecords(afterSequence: Int64, limit: Int) async throws(KeyReleaseError) -> [AuditRecord] {
        try await session { s throws(KeyReleaseError) in try await s.auditRecords(afterSequence: afterSequence, limit: limit) }
    }

    /// Waits for running operations, then closes the database. Later calls throw `.storeUnavailable`.
    public func close() async {
        await database.close()
    }
}

/// The embedded ``ReleaseStore``: one SQLite file (``SQLiteDatabase``: WAL journal,
/// `synchronous=FULL`, one connection behind a FIFO gate, `BEGIN IMMEDIATE` transactions that
/// wait up to `busyTimeout` for another process's write lock).
public final class SQLiteReleaseStore: SQLReleaseStore, @unchecked Sendable {
    /// How the file is opened.
    public typealias Access = SQLiteDatabase.Access

    /// Opens the database at `path` (see ``SQLiteDatabase/init(path:busyTimeout:access:)``);
    /// `.storeUnavailable` when it does not open. Call ``migrate()`` before read-write use
    /// (``ReleaseStores/open(_:)`` does; ``ReleaseStores/openForReading(_:)`` never migrates).
    public init(path: String, busyTimeout: Duration = .seconds(5), access: Access = .readWrite) async throws(KeyReleaseError) {
        do {
            super.init(database: .sqlite(try await SQLiteDatabase(path: path, busyTimeout: busyTimeout, access: access)))
        } catch {
            throw KeyReleaseError(store: error)
        }
    }
}

/// The shared ``ReleaseStore``: PostgreSQL through a pool (``PostgresDatabase``), for several
/// replicas behind one load balancer. Every call finishes within `timeout` or throws
/// `.storeUnavailable`.
public final class PostgresReleaseStore: SQLReleaseStore, @unchecked Sendable {
    /// Connects lazily to `url` (see ``PostgresDatabase/init(url:timeout:)``); `.configInvalid`
    /// for a malformed URL (never repeated: it may hold a password). Call ``migrate()`` before
    /// use (``ReleaseStores/open(_:)`` does).
    public init(url: String, timeout: Duration = .seconds(5)) throws(KeyReleaseError) {
        do {
            super.init(database: .postgres(try PostgresDatabase(url: url, timeout: timeout)))
        } catch {
            throw KeyReleaseError(store: error)
        }
    }
}
