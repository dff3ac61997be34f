import Foundation

/// The SQL dialects the store speaks. Everything else (statements, classification, chaining)
/// is shared, so the two backends differ only in how they reach the database.
public enum StoreDialect: Sendable {
    /// SQLite (the embedded default).
    case sqlite
    /// PostgreSQL (shared by replicas).
    case postgres
}

/// A value bound to, or read from, a statement. The stores only ever keep integers
/// (milliseconds, sequence numbers), opaque bytes (text is stored as UTF-8 bytes) and NULL.
public enum StoreValue: Sendable, Hashable {
    /// A 64-bit integer.
    case integer(Int64)
    /// A byte string.
    case bytes([UInt8])
    /// NULL.
    case null
}

/// One database connection as a backend provides it: runs statements with PostgreSQL
/// placeholders (`$1`, `$2`, …). Used only through ``SQLSession``.
public protocol StoreConnection: Sendable {
    /// The connection's dialect.
    var dialect: StoreDialect { get }

    /// Runs one statement and returns its rows, each a list of column values.
    func execute(_ sql: String, _ binds: [StoreValue]) async throws(SQLStoreError) -> [[StoreValue]]

    /// Called when a failed transaction could not be rolled back: the connection must not be
    /// used again (PostgreSQL closes it, so the server rolls back).
    func invalidate() async
}

/// One result row, by column position, with failures in the caller's error type.
public struct SQLRow<Failure: StoreFailure>: Sendable {
    /// The column values.
    public let values: [StoreValue]

    /// Creates a row.
    public init(values: [StoreValue]) { self.values = values }

    /// The integer in column `index`; a `.corrupt` failure naming `column` when it is anything else.
    public func integer(_ index: Int, _ column: String) throws(Failure) -> Int64 {
        guard let value = try optionalInteger(index, column) else { throw Self.corrupt(column, "is NULL") }
        return value
    }

    /// The integer in column `index`, or nil for NULL.
    public func optionalInteger(_ index: Int, _ column: String) throws(Failure) -> Int64? {
        guard index < values.count else { throw Self.corrupt(column, "is missing") }
        switch values[index] {
        case .integer(let v): return v
        case .null: return nil
        case .bytes: throw Self.corrupt(column, "is not an integer")
        }
    }

    /// The bytes in column `index`.
    public func bytes(_ index: Int, _ column: String) throws(Failure) -> [UInt8] {
        guard let value = try optionalBytes(index, column) else { throw Self.corrupt(column, "is NULL") }
        return value
    }

    /// The bytes in column `index`, or nil for NULL.
    public func optionalBytes(_ index: Int, _ column: String) throws(Failure) -> [UInt8]? {
        guard index < values.count else { throw Self.corrupt(column, "is missing") }
        switch values[index] {
        case .bytes(let b): return b
        case .null: return nil
        case .integer: throw Self.corrupt(column, "is not a byte string")
        }
    }

    /// The UTF-8 text stored as bytes in column `index`.
    public func text(_ index: Int, _ column: String) throws(Failure) -> String {
        let bytes = try bytes(index, column)
        guard let text = String(validating: bytes, as: UTF8.self) else { throw Self.corrupt(column, "is not UTF-8 text") }
        return text
    }

    /// The instant (milliseconds since the epoch) in column `index`.
    public func date(_ index: Int, _ column: String) throws(Failure) -> Date {
        StoreTime.date(millis: try integer(index, column))
    }

    private static func corrupt(_ column: String, _ problem: String) -> Failure {
        // Names the column, never the value.
        Failure(store: SQLStoreError(.corrupt, "stored \(column) \(problem)"))
    }
}

/// One connection held exclusively by the caller for the session's lifetime (the SQLite
/// database's only connection, or a PostgreSQL connection leased from the pool), reporting
/// failures in the caller's error type. Statements use PostgreSQL placeholders (`$1`, `$2`, …);
/// the SQLite backend rewrites them.
public struct SQLSession<Failure: StoreFailure>: Sendable {
    /// The backend connection.
    public let connection: any StoreConnection

    /// Wraps a backend connection.
    public init(_ connection: any StoreConnection) { self.connection = connection }

    /// The connection's dialect.
    public var dialect: StoreDialect { connection.dialect }

    /// Runs one statement and returns its rows (none for statements without a result).
    @discardableResult
    public func query(_ sql: String, _ binds: [StoreValue]) async throws(Failure) -> [SQLRow<Failure>] {
        do {
            return try await connection.execute(sql, binds).map { SQLRow(values: $0) }
        } catch {
            throw Failure(store: error)
        }
    }

    /// Marks the connection unusable (see ``StoreConnection/invalidate()``).
    public func invalidate() async { await connection.invalidate() }

    /// Runs `body` in a write transaction that excludes every other writer taking `lockKey`, on
    /// this and every other replica: PostgreSQL `BEGIN` + `pg_advisory_xact_lock(lockKey)`
    /// (released at commit or rollback), SQLite `BEGIN IMMEDIATE` (the database write lock;
    /// busy_timeout bounds the wait). Commits when `body` returns; rolls back when it or the
    /// commit throws.
    public func exclusiveTransaction<T>(lockKey: Int64, _ body: (Self) async throws(Failure) -> T) async throws(Failure) -> T {
        switch dialect {
        case .sqlite: try await query("BEGIN IMMEDIATE", [])
        case .postgres: try await query("BEGIN", [])
        }
        do throws(Failure) {
            if dialect == .postgres {
                try await query("SELECT pg_advisory_xact_lock($1)", [.integer(lockKey)])
            }
            let value = try await body(self)
            try await query("COMMIT", [])
            return value
        } catch {
            do throws(Failure) { try await query("ROLLBACK", []) } catch { await invalidate() }
            throw error
        }
    }
}

/// Times are stored as BIGINT milliseconds since the Unix epoch (rounded to the nearest
/// millisecond), the same in both dialects.
public enum StoreTime {
    /// `date` in milliseconds; `.outOfRange` for a date no store can hold (not finite, or
    /// beyond ±285,000 years).
    public static func millis(_ date: Date) throws(SQLStoreError) -> Int64 {
        let ms = (date.timeIntervalSince1970 * 1000).rounded()
        guard ms.isFinite, abs(ms) < 9.0e15 else { throw SQLStoreError(.outOfRange, "a time outside the storable range") }
        return Int64(ms)
    }

    /// The instant `millis` milliseconds after the epoch.
    public static func date(millis: Int64) -> Date {
        Date(timeIntervalSince1970: Double(millis) / 1000)
    }
}
