/// The two store backends tests run against.
public enum StoreBackend: String, CaseIterable, Sendable {
    /// A temporary SQLite file.
    case sqlite
    /// A database on the test process's PostgreSQL server.
    case postgres
}

/// The test process's one PostgreSQL server, started on first use (its watchdog stops it when
/// the test process exits).
public enum SharedPostgres {
    /// The server, or why it did not start.
    public static let server = Result<PostgresServer, any Error> { try PostgresServer(database: "releasestore") }
}
