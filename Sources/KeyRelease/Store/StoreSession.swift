import Foundation

/// The SQL dialects the store speaks. Everything else (statements, classification, chaining)
/// is shared, so the two backends differ only in how they reach the database.
enum StoreDialect: Sendable {
    case sqlite
    case postgres
}

/// A value bound to, or read from, a statement. The store only ever stores integers
/// (milliseconds, sequence numbers), opaque bytes and NULL.
enum StoreValue: Sendable, Hashable {
    case integer(Int64)
    case bytes([UInt8])
    case null
}

/// One result row, by column position.
struct StoreRow: Sendable {
    let values: [StoreValue]

    /// The integer in column `index`; `.storeCorrupt` naming `column` when it is anything else.
    func integer(_ index: Int, _ column: String) throws(KeyReleaseError) -> Int64 {
        guard let value = try optionalInteger(index, column) else { throw Self.corrupt(column, "is NULL") }
        return value
    }

    /// The integer in column `index`, or nil for NULL.
    func optionalInteger(_ index: Int, _ column: String) throws(KeyReleaseError) -> Int64? {
        guard index < values.count else { throw Self.corrupt(column, "is missing") }
        switch values[index] {
        case .integer(let v): return v
        case .null: return nil
        case .bytes: throw Self.corrupt(column, "is not an integer")
        }
    }

    /// The bytes in column `index`.
    func bytes(_ index: Int, _ column: String) throws(KeyReleaseError) -> [UInt8] {
        guard index < values.count else { throw Self.corrupt(column, "is missing") }
        switch values[index] {
        case .bytes(let b): return b
        case .null: throw Self.corrupt(column, "is NULL")
        case .integer: throw Self.corrupt(column, "is not a byte string")
        }
    }

    /// The instant (milliseconds since the epoch) in column `index`.
    func date(_ index: Int, _ column: String) throws(KeyReleaseError) -> Date {
        StoreTime.date(millis: try integer(index, column))
    }

    private static func corrupt(_ column: String, _ problem: String) -> KeyReleaseError {
        // Names the column, never the value.
        KeyReleaseError(.storeCorrupt, "stored \(column) \(problem)")
    }
}

/// One database connection held exclusively by the caller for the session's lifetime (the
/// SQLite store's only connection, or a PostgreSQL connection leased from the pool). Statements
/// use PostgreSQL placeholders (`$1`, `$2`, …); the SQLite session rewrites them.
protocol StoreSession: Sendable {
    /// The connection's dialect.
    var dialect: StoreDialect { get }

    /// Runs one statement and returns its rows (none for statements without a result).
    @discardableResult
    func query(_ sql: String, _ binds: [StoreValue]) async throws(KeyReleaseError) -> [StoreRow]

    /// Called when a failed transaction could not be rolled back: the connection must not be
    /// used again (PostgreSQL closes it, so the server rolls back).
    func invalidate() async
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
    /// Runs `body` in a write transaction that excludes every other writer taking `lock`, on this
    /// and every other replica: PostgreSQL `BEGIN` + `pg_advisory_xact_lock(lock)` (released at
    /// commit or rollback), SQLite `BEGIN IMMEDIATE` (the database write lock; busy_timeout bounds
    /// the wait). Commits when `body` returns; rolls back when it or the commit throws.
    func exclusiveTransaction<T>(
        _ lock: StoreLock, _ body: (Self) async throws(KeyReleaseError) -> T
    ) async throws(KeyReleaseError) -> T {
        switch dialect {
        case .sqlite: try await query("BEGIN IMMEDIATE", [])
        case .postgres: try await query("BEGIN", [])
        }
        do throws(KeyReleaseError) {
            if dialect == .postgres {
                try await query("SELECT pg_advisory_xact_lock($1)", [.integer(lock.rawValue)])
            }
            let value = try await body(self)
            try await query("COMMIT", [])
            return value
        } catch {
            do throws(KeyReleaseError) { try await query("ROLLBACK", []) } catch { await invalidate() }
            throw error
        }
    }
}

/// Times are stored as BIGINT milliseconds since the Unix epoch (rounded to the nearest
/// millisecond), the same in both dialects.
enum StoreTime {
    /// `date` in milliseconds; `.internalError` for a date no store can hold (not finite, or
    /// beyond ±285,000 years).
    static func millis(_ date: Date) throws(KeyReleaseError) -> Int64 {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms.isFinite, abs(ms) < 9.0e15 else { throw KeyReleaseError(.internalError, "a time outside the storable range") }
        return Int64(ms)
    }

    /// The instant `millis` milliseconds after the epoch.
    static func date(millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }
}
