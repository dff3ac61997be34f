import SQLStore

/// The coordinator store's schema (``StoreSchema``: versioned migrations shared by SQLite and
/// PostgreSQL). Text is stored as UTF-8 bytes and states as small integers, so both dialects
/// hold the same values; times are milliseconds since the epoch.
enum JobStoreSchema {
    /// The advisory lock that serializes migrations across coordinators ("licencmg").
    static let migrationLock: Int64 = 0x6C69_6365_6E63_6D67

    /// Every migration, oldest first. Append new versions; never edit a released one.
    static let schema = StoreSchema(
        name: "coordinator store", migrationLock: migrationLock,
        migrations: [
            StoreSchema.Migration(
                version: 1,
                statements: [
                    """
                    CREATE TABLE jobs (
                        job_id \(.bytes) PRIMARY KEY,
                        dataset_root \(.bytes) NOT NULL,
                        requested_epochs \(.int64) NOT NULL,
                        state \(.int64) NOT NULL,
                        provider_url \(.bytes),
                        node_signer \(.bytes),
                        task_id \(.bytes),
                        dispatch_attempts \(.int64) NOT NULL DEFAULT 0,
                        task_status \(.bytes),
                        settlement_kind \(.int64),
                        settlement_body \(.bytes),
                        settlement_tx \(.bytes),
                        settlement_attempts \(.int64) NOT NULL DEFAULT 0,
                        reason \(.bytes),
                        lease_owner \(.bytes),
                        lease_until \(.int64),
                        next_at \(.int64) NOT NULL,
                        progress_at \(.int64) NOT NULL,
                        created_at \(.int64) NOT NULL,
                        updated_at \(.int64) NOT NULL
                    )\(.strict)
                    """,
                    "CREATE INDEX jobs_due ON jobs (state, next_at)",
                    """
                    CREATE TABLE cursors (
                        name \(.bytes) PRIMARY KEY,
                        block \(.int64) NOT NULL,
                        updated_at \(.int64) NOT NULL
                    )\(.strict)
                    """,
                ])
        ])
}
