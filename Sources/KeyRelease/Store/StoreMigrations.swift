import SQLStore

/// The key-release store's schema (``StoreSchema``: versioned migrations shared by both dialects).
enum StoreMigrations {
    /// Every migration, oldest first. Append new versions; never edit a released one.
    static let schema = StoreSchema(
        name: "key-release store", migrationLock: StoreLock.migrations.rawValue,
        migrations: [
            StoreSchema.Migration(
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
            StoreSchema.Migration(
                version: 2,
                statements: [
                    "ALTER TABLE escrow ADD COLUMN version \(.int64) NOT NULL DEFAULT 0",
                    "CREATE INDEX nonces_expires_at ON nonces (expires_at)",
                ]),
        ])

    /// The newest version this build knows.
    static var latestVersion: Int { schema.latestVersion }
}
