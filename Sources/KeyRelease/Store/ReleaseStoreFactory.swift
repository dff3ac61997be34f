/// Opens the configured ``ReleaseStore`` from its URL.
public enum ReleaseStores {
    /// The accepted forms, for messages.
    static let acceptedForms = "sqlite:PATH (a file, or sqlite::memory: for tests) or postgres://user[:password]@host[:port]/database[?sslmode=…] (postgresql:// also accepted)"

    /// Opens the store `url` names and applies pending migrations:
    /// - `sqlite:PATH`: ``SQLiteReleaseStore`` on the file PATH (created if missing);
    ///   `sqlite::memory:` is a private in-memory database (tests only: nothing survives);
    /// - `postgres://…` or `postgresql://…`: ``PostgresReleaseStore`` (see its initialiser).
    ///
    /// Throws `.configInvalid` for anything else (including `sqlite://…`, which would read the
    /// authority as part of a path) and for a malformed URL; `.storeUnavailable` when the store
    /// does not open or migrate (it is closed again).
    public static func open(_ url: String) async throws(KeyReleaseError) -> any ReleaseStore {
        let store: any ReleaseStore
        switch try Location(url) {
        case .sqlite(let path): store = try await SQLiteReleaseStore(path: path)
        case .postgres: store = try PostgresReleaseStore(url: url)
        }
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Opens the existing store `url` names for reading (`keyrelease audit verify`): nothing is
    /// created, migrated or written.
    /// - `sqlite:PATH`: the file must exist (a mistyped path is an error, never a new empty
    ///   store) and is opened read-only;
    /// - `postgres://…`: connects without migrating.
    ///
    /// Fails closed: `.storeUnavailable` when the store is missing, does not open, or has no
    /// key-release schema (the service never ran on it); `.configInvalid` for a malformed URL or
    /// a schema newer than this build knows. The store is closed again on failure.
    public static func openForReading(_ url: String) async throws(KeyReleaseError) -> any ReleaseStore {
        let store: any ReleaseStore
        let name: String
        switch try Location(url) {
        case .sqlite(let path):
            store = try await SQLiteReleaseStore(path: path, access: .readOnly)
            name = path
        case .postgres:
            store = try PostgresReleaseStore(url: url)
            name = "the PostgreSQL database"  // not the URL: it may carry a password
        }
        do throws(KeyReleaseError) {
            let version = try await store.schemaVersion()
            guard version > 0 else {
                throw KeyReleaseError(.storeUnavailable, "\(name) is not a key-release store (no schema_migrations table: the service never opened it)")
            }
            guard version <= StoreMigrations.latestVersion else {
                throw KeyReleaseError(.configInvalid, "the store's schema version \(version) is newer than this build's \(StoreMigrations.latestVersion)")
            }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Where a store URL points.
    private enum Location {
        case sqlite(path: String)
        case postgres

        /// Parses the scheme; `.configInvalid` for anything but the accepted forms.
        init(_ url: String) throws(KeyReleaseError) {
            let lowered = url.lowercased()
            if lowered.hasPrefix("sqlite:") {
                let path = String(url.dropFirst("sqlite:".count))
                guard !path.isEmpty, !path.hasPrefix("//") else {
                    throw KeyReleaseError(.configInvalid, "store URL: sqlite: needs a path, as in sqlite:/var/lib/keyrelease/store.db; accepted: \(ReleaseStores.acceptedForms)")
                }
                self = .sqlite(path: path)
            } else if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
                self = .postgres
            } else {
                // The URL itself is not repeated: it may carry a password.
                throw KeyReleaseError(.configInvalid, "store URL has an unsupported scheme; accepted: \(ReleaseStores.acceptedForms)")
            }
        }
    }
}
