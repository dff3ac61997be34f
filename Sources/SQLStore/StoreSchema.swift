import Foundation

/// A store's schema as an ordered list of versioned migrations, shared by both dialects.
/// Applied versions are recorded in `schema_migrations(version, applied_at)`; a migration runs
/// once, inside the same transaction that records it.
///
/// Only column types differ between dialects (``DialectSQL``): byte strings are `BLOB` in SQLite
/// and `BYTEA` in PostgreSQL; integers (times in milliseconds since the epoch, sequences) are
/// `INTEGER` in SQLite (its 64-bit integer; tables are `STRICT`, so a wrong type is refused on
/// write) and `BIGINT` in PostgreSQL.
public struct StoreSchema: Sendable {
    /// One schema version.
    public struct Migration: Sendable {
        /// Its version (1, 2, …, in order, without gaps).
        public let version: Int
        /// Its statements, run in order.
        public let statements: [DialectSQL]

        /// Creates a migration.
        public init(version: Int, statements: [DialectSQL]) {
            self.version = version
            self.statements = statements
        }
    }

    /// The store's name in messages ("key-release store", "coordinator store").
    public let name: String
    /// The advisory lock key that serializes migrations across replicas (PostgreSQL).
    public let migrationLock: Int64
    /// Every migration, oldest first. Append new versions; never edit a released one.
    public let migrations: [Migration]

    /// Creates a schema.
    public init(name: String, migrationLock: Int64, migrations: [Migration]) {
        self.name = name
        self.migrationLock = migrationLock
        self.migrations = migrations
    }

    /// The newest version this build knows.
    public var latestVersion: Int { migrations.last?.version ?? 0 }

    static let createVersionTable: DialectSQL =
        "CREATE TABLE IF NOT EXISTS schema_migrations (version \(.int64) PRIMARY KEY, applied_at \(.int64) NOT NULL)\(.strict)"

    /// The failure for a database at `version`, newer than this build.
    func tooNew(_ version: Int) -> SQLStoreError {
        SQLStoreError(.schemaTooNew, "the store's schema version \(version) is newer than this build's \(latestVersion)")
    }
}

extension SQLSession {
    /// The highest applied migration, or 0 when there is no `schema_migrations` table; reads only.
    public func schemaVersion() async throws(Failure) -> Int {
        let exists: String =
            switch dialect {
            case .sqlite: "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
            case .postgres: "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
            }
        guard try await query(exists, []).first?.integer(0, "count") ?? 0 > 0 else { return 0 }
        let rows = try await query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [])
        return Int(try rows.first?.integer(0, "schema_migrations.version") ?? 0)
    }

    /// Applies every pending migration of `schema` in one exclusive transaction and returns the
    /// version in force. Safe when several replicas start at once: the PostgreSQL advisory lock
    /// (or SQLite's write lock) makes the second one wait, then find nothing to do. Fails closed
    /// with `.schemaTooNew` when the database is at a version newer than this build knows.
    public func migrate(_ schema: StoreSchema, now: Date) async throws(Failure) -> Int {
        let appliedAt: Int64
        do { appliedAt = try StoreTime.millis(now) } catch { throw Failure(store: error) }
        return try await exclusiveTransaction(lockKey: schema.migrationLock) { session throws(Failure) in
            try await session.query(StoreSchema.createVersionTable.text(session.dialect), [])
            let rows = try await session.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [])
            let current = Int(try rows.first?.integer(0, "schema_migrations.version") ?? 0)
            guard current <= schema.latestVersion else { throw Failure(store: schema.tooNew(current)) }
            for migration in schema.migrations where migration.version > current {
                for statement in migration.statements {
                    try await session.query(statement.text(session.dialect), [])
                }
                try await session.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    [.integer(Int64(migration.version)), .integer(appliedAt)])
            }
            return max(current, schema.latestVersion)
        }
    }

    /// Checks that the database holds `schema` at a version this build knows, changing nothing
    /// (for readers that must not create or migrate): `.unavailable` naming `what` when there
    /// is no schema, `.schemaTooNew` when it is newer. Returns the version.
    public func requireSchema(_ schema: StoreSchema, in what: String) async throws(Failure) -> Int {
        let version = try await schemaVersion()
        guard version > 0 else {
            throw Failure(store: SQLStoreError(.unavailable, "\(what) is not a \(schema.name) (no schema_migrations table: the service never opened it)"))
        }
        guard version <= schema.latestVersion else { throw Failure(store: schema.tooNew(version)) }
        return version
    }
}

/// SQL text with the few dialect-dependent words as placeholders:
/// `"id \(.int64) PRIMARY KEY, data \(.bytes))\(.strict)"`.
public struct DialectSQL: Sendable, ExpressibleByStringInterpolation {
    /// A word that differs between dialects.
    public enum Word: Sendable {
        /// A byte string column type: `BLOB` / `BYTEA`.
        case bytes
        /// A 64-bit integer column type: `INTEGER` / `BIGINT`.
        case int64
        /// The table option that enforces column types: ` STRICT` in SQLite, nothing in PostgreSQL.
        case strict

        func text(_ dialect: StoreDialect) -> String {
            switch (self, dialect) {
            case (.bytes, .sqlite): "BLOB"
            case (.bytes, .postgres): "BYTEA"
            case (.int64, .sqlite): "INTEGER"
            case (.int64, .postgres): "BIGINT"
            case (.strict, .sqlite): " STRICT"
            case (.strict, .postgres): ""
            }
        }
    }

    fileprivate enum Part: Sendable {
        case literal(String)
        case word(Word)
    }

    private let parts: [Part]

    /// A statement without dialect words.
    public init(stringLiteral value: String) { parts = [.literal(value)] }

    /// A statement with dialect words.
    public init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

    /// The statement in `dialect`.
    public func text(_ dialect: StoreDialect) -> String {
        parts.map { part in
            switch part {
            case .literal(let s): s
            case .word(let w): w.text(dialect)
            }
        }.joined()
    }

    /// Builds a ``DialectSQL`` from a literal with ``Word`` interpolations.
    public struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var parts: [Part] = []
        /// Starts an empty statement.
        public init(literalCapacity: Int, interpolationCount: Int) {}
        /// Appends literal SQL.
        public mutating func appendLiteral(_ literal: String) { parts.append(.literal(literal)) }
        /// Appends a dialect word.
        public mutating func appendInterpolation(_ word: Word) { parts.append(.word(word)) }
    }
}
