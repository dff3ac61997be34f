import SQLStore

/// Opens the configured ``ReleaseStore`` from its URL.
public enum ReleaseStores {
    /// Opens the store `url` names and applies pending migrations:
    /// - `sqlite:PATH`: ``SQLiteReleaseStore`` on the file PATH (created if missing);
    ///   `sqlite::memory:` is a private in-memory database (tests only: nothing survives);
    /// - `postgres://…` or `postgresql://…`: ``PostgresReleaseStore`` (see its initialiser).
    ///
    /// Throws `.configInvalid` for anything else (including `sqlite://…`, which would read the
    /// authority as part of a path) and for a malformed URL; `.storeUnavailable` when the store
    /// does not open or migrate (it is closed again).
    public static func open(_ url: String) async throws(KeyReleaseError) -> any ReleaseStore {
        let store = try await make(url, access: .readWrite)
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
        let store = try await make(url, access: .readOnly)
        let name: String
        do { name = try SQLDatabase.Location(url).displayName } catch { throw KeyReleaseError(store: error) }
        do throws(KeyReleaseError) {
            _ = try await store.database.withSession { (s: StoreSession) throws(KeyReleaseError) in
                try await s.requireSchema(StoreMigrations.schema, in: name)
            }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    private static func make(_ url: String, access: SQLiteDatabase.Access) async throws(KeyReleaseError) -> SQLReleaseStore {
        let location: SQLDatabase.Location
        do { location = try SQLDatabase.Location(url) } catch { throw KeyReleaseError(store: error) }
        switch location {
        case .sqlite(let path): return try await SQLiteReleaseStore(path: path, access: access)
        case .postgres(let url): return try PostgresReleaseStore(url: url)
        }
    }
}
