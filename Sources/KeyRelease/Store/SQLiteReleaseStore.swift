import Chain
import Foundation
import Logging
import NIOCore
import SQLiteNIO

/// The embedded ``ReleaseStore``: one SQLite file (WAL journal) behind one connection.
///
/// Every operation, and every transaction as a whole, runs alone on that connection (a FIFO
/// gate, not just actor isolation, since an actor lets another call in at each `await`).
/// Other processes opening the same file (a second replica, an operator's `sqlite3`) are
/// serialized by SQLite's write lock: transactions begin `IMMEDIATE`, and a writer waits up to
/// `busyTimeout` for the lock before the call fails with `.storeUnavailable`.
///
/// The connection runs on a thread of its own: a statement waiting for another connection's
/// lock sleeps there, never on a thread that other stores or other work need (on the shared
/// pool, two stores in one process can starve each other until the busy timeout).
///
/// Durability: `synchronous=FULL`, so a consumed nonce or an appended audit record survives a
/// power loss once the call returns. Nothing is logged.
public actor SQLiteReleaseStore: ReleaseStore {
    private var connection: SQLiteConnection?
    private let thread: NIOThreadPool
    private let gate = AsyncFIFOLock()

    /// How ``init(path:busyTimeout:access:)`` opens the database file.
    public enum Access: Sendable, Hashable {
        /// Read and write, creating the file if it is missing, in WAL mode (the service).
        case readWrite
        /// Read only, and the file must already exist (offline checks: `keyrelease audit
        /// verify`). Nothing is created or written: no WAL switch, no migration, writes fail.
        case readOnly
    }

    /// Opens the database at `path`: with `.readWrite` (the default) creating it if needed, and
    /// `":memory:"` opens a private in-memory database (tests); with `.readOnly` only an existing
    /// file. `busyTimeout` (default 5 s, whole milliseconds) bounds how long a statement waits for
    /// another connection's lock. Throws `.storeUnavailable` when the file cannot be opened (or,
    /// read-only, does not exist or is not a regular file). Call ``migrate()`` before read-write
    /// use (``ReleaseStores/open(_:)`` does; ``ReleaseStores/openForReading(_:)`` never migrates).
    public init(path: String, busyTimeout: Duration = .seconds(5), access: Access = .readWrite) async throws(KeyReleaseError) {
        let storage: SQLiteConnection.Storage
        switch access {
        case .readWrite: storage = path == ":memory:" ? .memory : .file(path: path)
        case .readOnly: storage = .file(path: try Self.readOnlyURI(existing: path))
        }
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(
                storage: storage, threadPool: thread, logger: Self.silent,
                on: MultiThreadedEventLoopGroup.singleton.any())
        } catch {
            try? await thread.shutdownGracefully()
            throw KeyReleaseError(.storeUnavailable, "SQLite store \(path) does not open: \(Self.describe(error))")
        }
        let session = SQLiteSession(connection: connection)
        let timeoutMillis = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        do throws(KeyReleaseError) {
            // busy_timeout replaces the busy handler sqlite-nio installs, which retries forever.
            try await session.query("PRAGMA busy_timeout = \(max(1, timeoutMillis))", [])
            if case .file = storage, access == .readWrite {
                let mode = try await session.query("PRAGMA journal_mode = WAL", []).first
                guard case .bytes(let text)? = mode?.values.first, String(decoding: text, as: UTF8.self).lowercased() == "wal" else {
                    throw KeyReleaseError(.storeUnavailable, "SQLite store \(path) refuses WAL mode")
                }
            }
            if access == .readWrite { try await session.query("PRAGMA synchronous = FULL", []) }
        } catch {
            try? await connection.close()
            try? await thread.shutdownGracefully()
            throw error
        }
        self.connection = connection
        self.thread = thread
    }

    /// The URI that opens the existing file at `path` read-only. Why a URI: `mode=ro` makes
    /// SQLite refuse to create the file and to write to it (the connection is opened with
    /// `SQLITE_OPEN_CREATE`, which a plain path would honour: a mistyped path would become an
    /// empty store that verifies as intact).
    static func readOnlyURI(existing path: String) throws(KeyReleaseError) -> String {
        guard path != ":memory:" else { throw KeyReleaseError(.configInvalid, "sqlite::memory: is empty: there is no store to read") }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw KeyReleaseError(.storeUnavailable, "no SQLite store at \(path): \(String(cString: strerror(errno))) (a store is never created for reading)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw KeyReleaseError(.storeUnavailable, "\(path) is \(info.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file"), not an SQLite store")
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")
        // Every other byte (`?`, `#`, `%`, spaces, non-ASCII) is percent-encoded, as URI filenames require.
        guard let encoded = absolute.addingPercentEncoding(withAllowedCharacters: unreserved) else {
            throw KeyReleaseError(.storeUnavailable, "the SQLite store path \(path) cannot be encoded")
        }
        return "file:\(encoded)?mode=ro"
    }

    deinit {
        // A store dropped without close(): close the connection in the background (sqlite-nio
        // asserts that connections are closed before they are released).
        let thread = self.thread
        if let connection {
            (connection.close() as EventLoopFuture<Void>).whenComplete { _ in thread.shutdownGracefully { _ in } }
        } else {
            thread.shutdownGracefully { _ in }
        }
    }

    /// Applies pending migrations; see ``ReleaseStore/migrate()``.
    @discardableResult
    public func migrate() async throws(KeyReleaseError) -> Int {
        let session = try await acquire()
        defer { release() }
        return try await session.migrate(now: Date())
    }

    /// The schema version in force; see ``ReleaseStore/schemaVersion()``.
    public func schemaVersion() async throws(KeyReleaseError) -> Int {
        let session = try await acquire()
        defer { release() }
        return try await session.schemaVersion()
    }

    /// Runs `SELECT 1`.
    public func ping() async throws(KeyReleaseError) {
        let session = try await acquire()
        defer { release() }
        try await session.ping()
    }

    /// Records an issued nonce; see ``ReleaseStore/insertNonce(_:)``.
    public func insertNonce(_ nonce: IssuedNonce) async throws(KeyReleaseError) {
        let session = try await acquire()
        defer { release() }
        try await session.insertNonce(nonce)
    }

    /// Consumes a nonce atomically; see ``ReleaseStore/consumeNonce(_:now:)``.
    public func consumeNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceConsumption {
        let session = try await acquire()
        defer { release() }
        return try await session.consumeNonce(nonce, now: now)
    }

    /// Reads a nonce's state; see ``ReleaseStore/lookUpNonce(_:now:)``.
    public func lookUpNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceState {
        let session = try await acquire()
        defer { release() }
        return try await session.lookUpNonce(nonce, now: now)
    }

    /// Consumes a nonce and appends a record in one `BEGIN IMMEDIATE` transaction; see
    /// ``ReleaseStore/consumeNonce(_:now:appending:)``.
    public func consumeNonce(_ nonce: [UInt8], now: Date, appending draft: AuditDraft) async throws(KeyReleaseError) -> NonceSpend {
        let session = try await acquire()
        defer { release() }
        return try await session.consumeNonce(nonce, now: now, appending: draft)
    }

    /// Stores or replaces an escrow entry; see ``ReleaseStore/putEscrow(_:)``.
    public func putEscrow(_ entry: EscrowEntry) async throws(KeyReleaseError) {
        let session = try await acquire()
        defer { release() }
        try await session.putEscrow(entry)
    }

    /// Deletes expired nonces; see ``ReleaseStore/purgeNonces(expiredBefore:)``.
    @discardableResult
    public func purgeNonces(expiredBefore cutoff: Date) async throws(KeyReleaseError) -> Int {
        let session = try await acquire()
        defer { release() }
        return try await session.purgeNonces(expiredBefore: cutoff)
    }

    /// The escrow entry for a dataset root; see ``ReleaseStore/escrow(datasetRoot:)``.
    public func escrow(datasetRoot: [UInt8]) async throws(KeyReleaseError) -> EscrowEntry? {
        let session = try await acquire()
        defer { release() }
        return try await session.escrow(datasetRoot: datasetRoot)
    }

    /// Appends to the audit chain in one `BEGIN IMMEDIATE` transaction; see ``ReleaseStore/appendAudit(_:)``.
    public func appendAudit(_ draft: AuditDraft) async throws(KeyReleaseError) -> AuditRecord {
        let session = try await acquire()
        defer { release() }
        return try await session.appendAudit(draft, now: Date())
    }

    /// The audit record with this hash; see ``ReleaseStore/auditRecord(hash:)``.
    public func auditRecord(hash: [UInt8]) async throws(KeyReleaseError) -> AuditRecord? {
        let session = try await acquire()
        defer { release() }
        return try await session.auditRecord(hash: hash)
    }

    /// A page of the audit chain; see ``ReleaseStore/auditRecords(afterSequence:limit:)``.
    public func auditRecords(afterSequence: Int64, limit: Int) async throws(KeyReleaseError) -> [AuditRecord] {
        let session = try await acquire()
        defer { release() }
        return try await session.auditRecords(afterSequence: afterSequence, limit: limit)
    }

    /// Waits for running operations, then closes the connection and stops its thread. Later
    /// calls throw `.storeUnavailable`.
    public func close() async {
        guard let session = try? await acquire() else { return }
        defer { release() }
        connection = nil
        try? await session.connection.close()
        try? await thread.shutdownGracefully()
    }

    /// Waits for the gate (FIFO), then hands out the connection. The caller must `release()`.
    private func acquire() async throws(KeyReleaseError) -> SQLiteSession {
        await gate.lock()
        guard let connection else {
            release()
            throw KeyReleaseError(.storeUnavailable, "the SQLite store is closed")
        }
        return SQLiteSession(connection: connection)
    }

    private func release() { gate.unlock() }

    private static let silent = Logger(label: "keyrelease.store.sqlite", factory: { _ in SwiftLogNoOpLogHandler() })

    /// SQLite's reason and message (which name the statement's problem, never bound values).
    static func describe(_ error: any Error) -> String {
        if let error = error as? SQLiteError { return error.description }
        return String(describing: type(of: error))
    }
}

/// The SQLite store's connection as a ``StoreSession``, used only while the store's gate is held.
struct SQLiteSession: StoreSession {
    let connection: SQLiteConnection

    var dialect: StoreDialect { .sqlite }

    @discardableResult
    func query(_ sql: String, _ binds: [StoreValue]) async throws(KeyReleaseError) -> [StoreRow] {
        // `$n` is PostgreSQL's placeholder; SQLite's numbered equivalent is `?n` (a bare `$n`
        // would be a named parameter, numbered by first appearance instead).
        let text = sql.replacingOccurrences(of: "$", with: "?")
        let values = binds.map { value -> SQLiteData in
            switch value {
            case .integer(let v): .integer(SQLiteInt64(v))
            case .bytes(let b): .blob(ByteBuffer(bytes: b))
            case .null: .null
            }
        }
        let rows: [SQLiteRow]
        do {
            rows = try await connection.query(text, values)
        } catch {
            // The statement's opening words say which step failed; bound values never appear.
            let statement = sql.split(whereSeparator: \.isWhitespace).prefix(3).joined(separator: " ")
            throw KeyReleaseError(.storeUnavailable, "SQLite \(statement) … failed: \(SQLiteReleaseStore.describe(error))")
        }
        var result: [StoreRow] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var values: [StoreValue] = []
            for column in row.columns {
                switch column.data {
                case .integer(let v): values.append(.integer(Int64(v)))
                case .blob(let buffer): values.append(.bytes(Array(buffer.readableBytesView)))
                case .null: values.append(.null)
                // Only PRAGMA answers are text; the store's tables are STRICT integers and blobs.
                case .text(let s): values.append(.bytes(Array(s.utf8)))
                case .float: throw KeyReleaseError(.storeCorrupt, "stored \(column.name) is a floating-point number")
                }
            }
            result.append(StoreRow(values: values))
        }
        return result
    }

    func invalidate() async {}
}
