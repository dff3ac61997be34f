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
        let lowered = url.lowercased()
        if lowered.hasPrefix("sqlite:") {
            let path = String(url.dropFirst("sqlite:".count))
            guard !path.isEmpty, !path.hasPrefix("//") else {
                throw KeyReleaseError(.configInvalid, "store URL: sqlite: needs a path, as in sqlite:/var/lib/keyrelease/store.db; accepted: \(acceptedForms)")
            }
            store = try await SQLiteReleaseStore(path: path)
        } else if lowered.hasPrefix("postgres://") || lowered.hasPrefix("postgresql://") {
            store = try PostgresReleaseStore(url: url)
        } else {
            // The URL itself is not repeated: it may carry a password.
            throw KeyReleaseError(.configInvalid, "store URL has an unsupported scheme; accepted: \(acceptedForms)")
        }
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }
}
