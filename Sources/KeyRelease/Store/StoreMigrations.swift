import Foundation

/// The store's schema as an ordered list of versioned migrations, shared by both dialects.
/// Applied versions are recorded in `schema_migrations(version, applied_at)`; a migration runs
/// once, inside the same transaction that records it.
///
/// Only column types differ between dialects (``DialectSQL``): byte strings are `BLOB` in SQLite
/// and `BYTEA` in PostgreSQL; integers (times in milliseconds since the epoch, sequences) are
/// `INTEGER` in SQLite (its 64-bit integer; tables are `STRICT`, so a wrong type is refused on
/// write) and `BIGINT` in PostgreSQL.
enum StoreMigrations {
    /// One schema version.
    struct Migration: Sendable {
        /// Its version (1, 2, …, in order, without gaps).
        let version: Int
        /// Its statements, run in order.
        let statements: [DialectSQL]
    }

    /// Every migration, oldest first. Append new versions; never edit a released one.
    static let all: [Migration] = [
        Migration(
            version: 1,
            statements: [
                """
                CREATE TABLE nonces (
                    nonce \(.bytes) PRIMARY KEY,
                    issued_at \(.int64) NOT NULL,
                    expires_at \(.int64) NOT NULL,
                    used_at \(.int64)
                )\(.strict)
                """,
                """
                CREATE TABLE escrow (
                    dataset_root \(.bytes) PRIMARY KEY,
                    envelope \(.bytes) NOT NULL,
                    owner \(.bytes) NOT NULL,
                    signature \(.bytes) NOT NULL,
                    stored_at \(.int64) NOT NULL
                )\(.strict)
                """,
                """
                CREATE TABLE audit (
                    sequence \(.int64) PRIMARY KEY,
                    previous_hash \(.bytes) NOT NULL,
                    hash \(.bytes) NOT NULL UNIQUE,
                    body \(.bytes) NOT NULL,
                    created_at \(.int64) NOT NULL
                )\(.strict)
                """,
            ]),
        // The owner's escrow uploads carry a version: a replayed older upload cannot roll a
        // newer envelope back. Expired nonces are purged by expiry time.
        Migration(
            version: 2,
            statements: [
                "ALTER TABLE escrow ADD COLUMN version \(.int64) NOT NULL DEFAULT 0",
                "CREATE INDEX nonces_expires_at ON nonces (expires_at)",
            ]),
    ]

    /// The newest version this build knows.
    static var latestVersion: Int { all.last?.version ?? 0 }

    static let createVersionTable: DialectSQL =
        "CREATE TABLE IF NOT EXISTS schema_migrations (version \(.int64) PRIMARY KEY, applied_at \(.int64) NOT NULL)\(.strict)"
}

extension StoreSession {
    /// The highest applied migration, or 0 when there is no `schema_migrations` table; reads only.
    func schemaVersion() async throws(KeyReleaseError) -> Int {
        let exists: String =
            switch dialect {
            case .sqlite: "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'"
            case .postgres: "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = 'schema_migrations'"
            }
        guard try await query(exists, []).first?.integer(0, "count") ?? 0 > 0 else { return 0 }
        let rows = try await query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [])
        return Int(try rows.first?.integer(0, "schema_migrations.version") ?? 0)
    }

    /// Applies every pending migration in one exclusive transaction and returns the version in
    /// force. Safe when several replicas start at once: the PostgreSQL advisory lock (or SQLite's
    /// write lock) makes the second one wait, then find nothing to do. Fails closed with
    /// `.configInvalid` when the database is at a version newer than this build knows.
    func migrate(now: Date) async throws(KeyReleaseError) -> Int {
        let appliedAt = try StoreTime.millis(now)
        return try await exclusiveTransaction(.migrations) { session throws(KeyReleaseError) in
            try await session.query(StoreMigrations.createVersionTable.text(session.dialect), [])
            let rows = try await session.query("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", [])
            let current = Int(try rows.first?.integer(0, "schema_migrations.version") ?? 0)
            guard current <= StoreMigrations.latestVersion else {
                throw KeyReleaseError(.configInvalid, "the store's schema version \(current) is newer than this build's \(StoreMigrations.latestVersion)")
            }
            for migration in StoreMigrations.all where migration.version > current {
                for statement in migration.statements {
                    try await session.query(statement.text(session.dialect), [])
                }
                try await session.query(
                    "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
                    [.integer(Int64(migration.version)), .integer(appliedAt)])
            }
            return max(current, StoreMigrations.latestVersion)
        }
    }
}

/// SQL text with the few dialect-dependent words as placeholders:
/// `"id \(.int64) PRIMARY KEY, data \(.bytes))\(.strict)"`.
struct DialectSQL: Sendable, ExpressibleByStringInterpolation {
    /// A word that differs between dialects.
    enum Word: Sendable {
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

    init(stringLiteral value: String) { parts = [.literal(value)] }

    init(stringInterpolation: StringInterpolation) { parts = stringInterpolation.parts }

    /// The statement in `dialect`.
    func text(_ dialect: StoreDialect) -> String {
        parts.map { part in
            switch part {
            case .literal(let s): s
            case .word(let w): w.text(dialect)
            }
        }.joined()
    }

    struct StringInterpolation: StringInterpolationProtocol {
        fileprivate var parts: [Part] = []
        init(literalCapacity: Int, interpolationCount: Int) {}
        mutating func appendLiteral(_ literal: String) { parts.append(.literal(literal)) }
        mutating func appendInterpolation(_ word: Word) { parts.append(.word(word)) }
    }
}
