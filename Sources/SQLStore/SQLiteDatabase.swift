import AsyncLock
import Foundation
import Logging
import NIOCore
import NIOPosix
import SQLiteNIO
import Synchronization

/// The embedded database: one SQLite file (WAL journal) behind one connection.
///
/// Every session runs alone on that connection (a FIFO gate: a transaction's statements never
/// interleave with another caller's). Other processes opening the same file (a second replica,
/// an operator's `sqlite3`) are serialized by SQLite's write lock: transactions begin
/// `IMMEDIATE`, and a writer waits up to `busyTimeout` for the lock before the call fails with
/// `.unavailable`.
///
/// The connection runs on a thread of its own: a statement waiting for another connection's
/// lock sleeps there, never on a thread that other stores or other work need (on the shared
/// pool, two stores in one process can starve each other until the busy timeout).
///
/// Durability: `synchronous=FULL`, so a committed write survives a power loss once the call
/// returns. Nothing is logged.
public final class SQLiteDatabase: Sendable {
    private let connection: Mutex<SQLiteConnection?>
    private let thread: NIOThreadPool
    private let gate = AsyncFIFOLock()
    /// The path as given (for messages).
    public let path: String

    /// How ``init(path:busyTimeout:access:)`` opens the database file.
    public enum Access: Sendable, Hashable {
        /// Read and write, creating the file if it is missing, in WAL mode.
        case readWrite
        /// Read only, and the file must already exist (offline checks). Nothing is created or
        /// written: no WAL switch, no migration, writes fail.
        case readOnly
    }

    /// Opens the database at `path`: with `.readWrite` (the default) creating it if needed, and
    /// `":memory:"` opens a private in-memory database (tests); with `.readOnly` only an existing
    /// file. `busyTimeout` (default 5 s, whole milliseconds) bounds how long a statement waits for
    /// another connection's lock. Throws `.unavailable` when the file cannot be opened (or,
    /// read-only, does not exist or is not a regular file).
    public init(path: String, busyTimeout: Duration = .seconds(5), access: Access = .readWrite) async throws(SQLStoreError) {
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
            throw SQLStoreError(.unavailable, "SQLite store \(path) does not open: \(Self.describe(error))")
        }
        let session = SQLiteSession(connection: connection)
        let timeoutMillis = busyTimeout.components.seconds * 1000 + busyTimeout.components.attoseconds / 1_000_000_000_000_000
        do throws(SQLStoreError) {
            // busy_timeout replaces the busy handler sqlite-nio installs, which retries forever.
            try await session.execute("PRAGMA busy_timeout = \(max(1, timeoutMillis))", [])
            if case .file = storage, access == .readWrite {
                let mode = try await session.execute("PRAGMA journal_mode = WAL", []).first
                guard case .bytes(let text)? = mode?.first, String(decoding: text, as: UTF8.self).lowercased() == "wal" else {
                    throw SQLStoreError(.unavailable, "SQLite store \(path) refuses WAL mode")
                }
            }
            if access == .readWrite { try await session.execute("PRAGMA synchronous = FULL", []) }
        } catch {
            try? await connection.close()
            try? await thread.shutdownGracefully()
            throw error
        }
        self.connection = Mutex(connection)
        self.thread = thread
        self.path = path
    }

    /// The URI that opens the existing file at `path` read-only. Why a URI: `mode=ro` makes
    /// SQLite refuse to create the file and to write to it (the connection is opened with
    /// `SQLITE_OPEN_CREATE`, which a plain path would honour: a mistyped path would become an
    /// empty store that verifies as intact).
    static func readOnlyURI(existing path: String) throws(SQLStoreError) -> String {
        guard path != ":memory:" else { throw SQLStoreError(.invalidLocation, "sqlite::memory: is empty: there is no store to read") }
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SQLStoreError(.unavailable, "no SQLite store at \(path): \(String(cString: strerror(errno))) (a store is never created for reading)")
        }
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw SQLStoreError(.unavailable, "\(path) is \(info.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a regular file"), not an SQLite store")
        }
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~/")
        // Every other byte (`?`, `#`, `%`, spaces, non-ASCII) is percent-encoded, as URI filenames require.
        guard let encoded = absolute.addingPercentEncoding(withAllowedCharacters: unreserved) else {
            throw SQLStoreError(.unavailable, "the SQLite store path \(path) cannot be encoded")
        }
        return "file:\(encoded)?mode=ro"
    }

    deinit {
        // A database dropped without close(): close the connection in the background (sqlite-nio
        // asserts that connections are closed before they are released).
        let thread = self.thread
        if let connection = connection.withLock({ $0 }) {
            (connection.close() as EventLoopFuture<Void>).whenComplete { _ in thread.shutdownGracefully { _ in } }
        } else {
            thread.shutdownGracefully { _ in }
        }
    }

    /// Runs `body` with the connection to itself (FIFO after earlier callers); failures in the
    /// caller's error type. `.unavailable` once closed.
    public func withSession<T, Failure: StoreFailure>(_ body: (SQLSession<Failure>) async throws(Failure) -> T) async throws(Failure) -> T {
        await gate.lock()
        defer { gate.unlock() }
        guard let connection = connection.withLock({ $0 }) else {
            throw Failure(store: SQLStoreError(.unavailable, "the SQLite store is closed"))
        }
        return try await body(SQLSession(SQLiteSession(connection: connection)))
    }

    /// Waits for running sessions, then closes the connection and stops its thread. Later
    /// sessions fail with `.unavailable`; a second close does nothing.
    public func close() async {
        await gate.lock()
        defer { gate.unlock() }
        guard
            let connection = connection.withLock({ c in
                defer { c = nil }; return c
            })
        else { return }
        try? await connection.close()
        try? await thread.shutdownGracefully()
    }

    private static let silent = Logger(label: "sqlstore.sqlite", factory: { _ in SwiftLogNoOpLogHandler() })

    /// SQLite's reason and message (which name the statement's problem, never bound values).
    static func describe(_ error: any Error) -> String {
        if let error = error as? SQLiteError { return error.description }
        return String(describing: type(of: error))
    }
}

/// The SQLite connection as a ``StoreConnection``, used only while the database's gate is held.
struct SQLiteSession: StoreConnection {
    let connection: SQLiteConnection

    var dialect: StoreDialect { .sqlite }

    @discardableResult
    func execute(_ sql: String, _ binds: [StoreValue]) async throws(SQLStoreError) -> [[StoreValue]] {
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
            throw SQLStoreError(.unavailable, "SQLite \(statement) … failed: \(SQLiteDatabase.describe(error))")
        }
        var result: [[StoreValue]] = []
        result.reserveCapacity(rows.count)
        for row in rows {
            var values: [StoreValue] = []
            for column in row.columns {
                switch column.data {
                case .integer(let v): values.append(.integer(Int64(v)))
                case .blob(let buffer): values.append(.bytes(Array(buffer.readableBytesView)))
                case .null: values.append(.null)
                // Only PRAGMA answers are text; the stores' tables are STRICT integers and blobs.
                case .text(let s): values.append(.bytes(Array(s.utf8)))
                case .float: throw SQLStoreError(.corrupt, "stored \(column.name) is a floating-point number")
                }
            }
            result.append(values)
        }
        return result
    }

    func invalidate() async {}
}
