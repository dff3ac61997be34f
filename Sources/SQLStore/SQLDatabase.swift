/// A database opened from a store URL: the embedded SQLite file or a shared PostgreSQL server.
/// Stores (the key-release store, the coordinator's job store) hold one and run their
/// statements through ``withSession(_:)``.
public enum SQLDatabase: Sendable {
    /// One SQLite file.
    case sqlite(SQLiteDatabase)
    /// A PostgreSQL connection pool.
    case postgres(PostgresDatabase)

    /// The accepted URL forms, for messages.
    public static let acceptedForms =
        "sqlite:PATH (a file, or sqlite::memory: for tests) or postgres://user[:password]@host[:port]/database[?sslmode=…] (postgresql:// also accepted)"

    /// Where a store URL points, parsed without touching the database.
    public enum Location: Sendable, Hashable {
        /// `sqlite:PATH`.
        case sqlite(path: String)
        /// `postgres://…` or `postgresql://…` (the URL, validated when the pool is created).
        case postgres(url: String)

        /// Parses the scheme; `.invalidLocation` for anything but the accepted forms (including
        /// `sqlite://…`, which would read the authority as part of a path). The URL is never
        /// repeated in a message: it may carry a password.
        public init(_ url: String) throws(SQLStoreError) {
            let lowered = url.lowercased()
            if lowered.hasPrefix("sqlite:") {
                let path = String(url.dropFirst("sqlite:".count))
                guard !path.isEmpty, !path.hasPrefix("//") else {
                    throw SQLStoreError(.invalidLocation, "store URL: sqlite: needs a path, as in sqlite:/var/lib/licen/store.db; accepted: \(SQLDatabase.acceptedForms)")
                }
                self = .sqlite(path: path)
            } else if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
                self = .postgres(url: url)
            } else {
                throw SQLStoreError(.invalidLocation, "store URL has an unsupported scheme; accepted: \(SQLDatabase.acceptedForms)")
            }
        }

        /// How the location names itself in messages: the SQLite path, never the PostgreSQL URL.
        public var displayName: String {
            switch self {
            case .sqlite(let path): path
            case .postgres: "the PostgreSQL database"
            }
        }
    }

    /// Opens the database `url` names: SQLite with `access` (PostgreSQL connects lazily;
    /// `timeout` bounds each of its sessions). `.invalidLocation` for a malformed URL,
    /// `.unavailable` when the SQLite file does not open.
    public static func open(_ url: String, access: SQLiteDatabase.Access = .readWrite, timeout: Duration = .seconds(5)) async throws(SQLStoreError) -> SQLDatabase {
        switch try Location(url) {
        case .sqlite(let path): .sqlite(try await SQLiteDatabase(path: path, access: access))
        case .postgres(let url): .postgres(try PostgresDatabase(url: url, timeout: timeout))
        }
    }

    /// The dialect.
    public var dialect: StoreDialect {
        switch self {
        case .sqlite: .sqlite
        case .postgres: .postgres
        }
    }

    /// Runs `body` on a connection of its own (SQLite: after earlier sessions; PostgreSQL: a
    /// pooled connection, bounded by the pool's timeout).
    public func withSession<T: Sendable, Failure: StoreFailure>(
        _ body: @escaping @Sendable (SQLSession<Failure>) async throws(Failure) -> T
    ) async throws(Failure) -> T {
        switch self {
        case .sqlite(let db): try await db.withSession(body)
        case .postgres(let db): try await db.withSession(body)
        }
    }

    /// Closes the database; later sessions fail with `.unavailable`.
    public func close() async {
        switch self {
        case .sqlite(let db): await db.close()
        case .postgres(let db): await db.close()
        }
    }
}
