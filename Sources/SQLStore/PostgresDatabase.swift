import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared database: PostgreSQL through postgres-nio's pooled `PostgresClient`, for several
/// replicas of a service sharing one database.
///
/// Failure behaviour: every session finishes within `timeout` (default 5 s, covering waiting for
/// a connection, connecting and the statements) or fails with `.unavailable`; a session that
/// times out mid-statement closes its connection, so the server rolls back whatever it had
/// begun. When a session cannot even get a connection (server down), the pool is replaced by a
/// fresh one for the next session, so the first one after the server comes back connects at
/// once instead of waiting out the old pool's reconnect back-off (up to a minute) or its open
/// circuit breaker. Nothing is logged.
public final class PostgresDatabase: Sendable {
    private let configuration: PostgresClient.Configuration
    private let timeout: Duration
    private let state = Mutex(State())

    private struct State {
        var client: PostgresClient?
        var runner: Task<Void, Never>?
        /// When a session last got a connection from `client`.
        var lastLease: ContinuousClock.Instant?
        var closed = false
    }

    /// Connects lazily to `url`: `postgres://user[:password]@host[:port]/database`
    /// (`postgresql://` also accepted; user, password and database percent-decoded; port 5432 by
    /// default). TLS is off unless the URL asks with `?sslmode=require` (TLS with certificate
    /// and host-name verification) or `?sslmode=prefer`; `sslmode=disable` is the default. Any
    /// other query parameter is refused. `timeout` bounds every session (see the type's summary).
    /// Throws `.invalidLocation` for a malformed URL (the message never repeats the URL: it may
    /// hold a password).
    public init(url: String, timeout: Duration = .seconds(5)) throws(SQLStoreError) {
        var configuration = try Self.parse(url)
        configuration.options.connectTimeout = timeout
        self.configuration = configuration
        self.timeout = timeout
    }

    deinit {
        state.withLock { $0.runner?.cancel() }
    }

    /// Shuts the pool down and waits for its connections to close. Later sessions fail with `.unavailable`.
    public func close() async {
        let runner = state.withLock { state -> Task<Void, Never>? in
            state.closed = true
            defer { state.client = nil; state.runner = nil }
            return state.runner
        }
        runner?.cancel()
        await runner?.value
    }

    // MARK: Sessions

    /// Leases a connection for `body`, bounded by `timeout` as a whole; failures in the caller's
    /// error type.
    public func withSession<T: Sendable, Failure: StoreFailure>(
        _ body: @escaping @Sendable (SQLSession<Failure>) async throws(Failure) -> T
    ) async throws(Failure) -> T {
        let client: PostgresClient
        do { client = try currentClient() } catch { throw Failure(store: error) }
        let leased = LeaseFlag()
        let timeout = self.timeout
        let started = ContinuousClock.now
        do {
            return try await withThrowingTaskGroup(of: T.self) { group in
                group.addTask {
                    while true {
                        do {
                            return try await client.withConnection { connection in
                                // A connection closed by an earlier timeout (below) can be leased
                                // again before the pool has noticed: nothing was sent; take another.
                                guard !connection.isClosed else { throw StaleConnection() }
                                leased.set()
                                self.noteLease(client)
                                do {
                                    return try await withTaskCancellationHandler {
                                        try await body(SQLSession(PostgresSession(connection: connection)))
                                    } onCancel: {
                                        // A statement in flight does not notice task cancellation; closing the
                                        // connection fails it now, and the server rolls back its transaction.
                                        _ = connection.close() as EventLoopFuture<Void>
                                    }
                                } catch {
                                    // The statement fails before the channel has finished closing: wait, so
                                    // the pool has dropped the connection before the lease goes back.
                                    if Task.isCancelled { try? await (connection.close() as EventLoopFuture<Void>).get() }
                                    throw error
                                }
                            }
                        } catch is StaleConnection {
                            try await Task.sleep(for: .milliseconds(5))
                        }
                    }
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    throw TimedOut()
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
        } catch let error as Failure {
            throw error
        } catch is TimedOut {
            // No connection for the whole timeout, and none for anyone else meanwhile: the pool
            // is stuck (server down), not merely busy.
            if !leased.isSet { retire(client, unlessLeasedSince: started) }
            throw Failure(store: SQLStoreError(.unavailable, "PostgreSQL did not answer within \(timeout)"))
        } catch {
            // The caller gave up: nothing wrong with the pool.
            if error is CancellationError || Task.isCancelled { throw Failure(store: SQLStoreError(.unavailable, "PostgreSQL call cancelled")) }
            // Failing to get a connection at all (circuit breaker open, pool shut down).
            retire(client)
            throw Failure(store: Self.unavailable(error))
        }
    }

    private struct TimedOut: Error {}
    private struct StaleConnection: Error {}

    /// Whether a call got as far as a connection (a timeout before that means the pool is stuck).
    private final class LeaseFlag: Sendable {
        private let value = Mutex(false)
        func set() { value.withLock { $0 = true } }
        var isSet: Bool { value.withLock { $0 } }
    }

    /// The running client, started on first use (and after a ``retire(_:)``).
    private func currentClient() throws(SQLStoreError) -> PostgresClient {
        let result = state.withLock { state -> PostgresClient? in
            guard !state.closed else { return nil }
            if let client = state.client { return client }
            let client = PostgresClient(configuration: configuration)
            state.client = client
            state.runner = Task { await client.run() }
            return client
        }
        guard let result else { throw SQLStoreError(.unavailable, "the PostgreSQL store is closed") }
        return result
    }

    private func noteLease(_ client: PostgresClient) {
        state.withLock { state in
            if state.client === client { state.lastLease = .now }
        }
    }

    /// Replaces `client` (if still current, and if no call got a connection from it since
    /// `instant`) with a fresh one on the next call, and shuts it down. Calls still waiting on
    /// it fail with `.storeUnavailable`, as they would have anyway.
    private func retire(_ client: PostgresClient, unlessLeasedSince instant: ContinuousClock.Instant? = nil) {
        let runner = state.withLock { state -> Task<Void, Never>? in
            guard let current = state.client, current === client else { return nil }
            if let instant, let lastLease = state.lastLease, lastLease >= instant { return nil }
            defer { state.client = nil; state.runner = nil; state.lastLease = nil }
            return state.runner
        }
        runner?.cancel()
    }

    // MARK: Errors

    /// postgres-nio's error as `.storeUnavailable`: its code, and for server errors the SQLSTATE
    /// and the server's message (which names objects, not values; `detail`, which can quote
    /// values, is left out).
    static func unavailable(_ error: any Error) -> SQLStoreError {
        var text: String
        if let error = error as? PSQLError {
            text = "PostgreSQL \(error.code)"
            if let state = error.serverInfo?[.sqlState] { text += " \(state)" }
            if let message = error.serverInfo?[.message] { text += ": \(message)" }
            if let underlying = error.underlying { text += " (\(type(of: underlying)): \(underlying))" }
        } else {
            text = "PostgreSQL: \(type(of: error)): \(error)"
        }
        return SQLStoreError(.unavailable, text)
    }

    // MARK: URL

    static func parse(_ url: String) throws(SQLStoreError) -> PostgresClient.Configuration {
        func invalid(_ why: String) -> SQLStoreError {
            SQLStoreError(.invalidLocation, "PostgreSQL store URL: \(why); expected postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]")
        }
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw invalid("not a URL")
        }
        guard scheme == "postgres" || scheme == "postgresql" else { throw invalid("scheme is not postgres or postgresql") }
        guard let host = components.host, !host.isEmpty else { throw invalid("no host") }
        guard let user = components.user, !user.isEmpty else { throw invalid("no user") }
        let port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw invalid("port out of range") }
        var database = components.path
        if database.hasPrefix("/") { database.removeFirst() }
        guard !database.isEmpty, !database.contains("/") else { throw invalid("no database name") }

        var tls = PostgresClient.Configuration.TLS.disable
        for item in components.queryItems ?? [] {
            guard item.name == "sslmode" else { throw invalid("unsupported parameter \(item.name)") }
            switch item.value {
            case "disable": tls = .disable
            case "prefer": tls = .prefer(.makeClientConfiguration())
            case "require": tls = .require(.makeClientConfiguration())
            default: throw invalid("sslmode must be disable, prefer or require")
            }
        }
        let bracketless = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return PostgresClient.Configuration(
            host: bracketless, port: port, username: user, password: components.password,
            database: database, tls: tls)
    }
}

/// A leased PostgreSQL connection as a ``StoreConnection``.
struct PostgresSession: StoreConnection {
    let connection: PostgresConnection

    var dialect: StoreDialect { .postgres }

    @discardableResult
    func execute(_ sql: String, _ binds: [StoreValue]) async throws(SQLStoreError) -> [[StoreValue]] {
        var bindings = PostgresBindings(capacity: binds.count)
        for value in binds {
            switch value {
            case .integer(let v): bindings.append(v)
            case .bytes(let b): bindings.append(ByteBuffer(bytes: b))
            case .null: bindings.appendNull()
            }
        }
        // postgres-nio (1.33) writes a query to the channel without a write promise: a query
        // written after the client side closed the connection (this store on a timeout, the pool
        // shutting down) is never answered, and its caller waits forever. So every query also
        // ends when the connection closes.
        let answer = connection.eventLoop.makePromise(of: PostgresQueryResult.self)
        connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: Self.silent).cascade(to: answer)
        connection.closeFuture.whenComplete { _ in answer.fail(ConnectionClosed()) }  // ignored once answered
        let result: PostgresQueryResult
        do {
            result = try await answer.futureResult.get()
        } catch is ConnectionClosed {
            throw SQLStoreError(.unavailable, "PostgreSQL connection closed")
        } catch {
            throw PostgresDatabase.unavailable(error)
        }
        var rows: [[StoreValue]] = []
        rows.reserveCapacity(result.rows.count)
        for row in result.rows {
            var values: [StoreValue] = []
            for cell in row {
                values.append(try Self.value(cell))
            }
            rows.append(values)
        }
        return rows
    }

    private struct ConnectionClosed: Error {}

    func invalidate() async {
        _ = connection.close() as EventLoopFuture<Void>
    }

    private static func value(_ cell: PostgresCell) throws(SQLStoreError) -> StoreValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .bytea: return .bytes(Array(try cell.decode(ByteBuffer.self).readableBytesView))
            case .void: return .null
            default: break
            }
        } catch {}
        throw SQLStoreError(.corrupt, "stored \(cell.columnName) has an unexpected type")
    }

    private static let silent = Logger(label: "sqlstore.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
}
