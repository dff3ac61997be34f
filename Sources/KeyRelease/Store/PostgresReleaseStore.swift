import Foundation
import Logging
import NIOCore
import PostgresNIO
import Synchronization

/// The shared ``ReleaseStore``: PostgreSQL through postgres-nio's pooled `PostgresClient`, for
/// several replicas behind one load balancer.
///
/// Atomicity across replicas comes from the database: a nonce is consumed by one `UPDATE …
/// RETURNING`, and audit appends hold `pg_advisory_xact_lock` for their transaction.
///
/// Failure behaviour: every call finishes within `timeout` (default 5 s, covering waiting for a
/// connection, connecting and the statements) or throws `.storeUnavailable`; a call that times
/// out mid-statement closes its connection, so the server rolls back whatever it had begun.
/// When a call cannot even get a connection (server down), the pool is replaced by a fresh one
/// for the next call, so the first call after the server comes back connects at once instead
/// of waiting out the old pool's reconnect back-off (up to a minute) or its open circuit
/// breaker. Nothing is logged.
public final class PostgresReleaseStore: ReleaseStore {
    private let configuration: PostgresClient.Configuration
    private let timeout: Duration
    private let state = Mutex(State())

    private struct State {
        var client: PostgresClient?
        var runner: Task<Void, Never>?
        /// When a call last got a connection from `client`.
        var lastLease: ContinuousClock.Instant?
        var closed = false
    }

    /// Connects lazily to `url`: `postgres://user[:password]@host[:port]/database`
    /// (`postgresql://` also accepted; user, password and database percent-decoded; port 5432 by
    /// default). TLS is off unless the URL asks with `?sslmode=require` (TLS with certificate
    /// and host-name verification) or `?sslmode=prefer`; `sslmode=disable` is the default. Any
    /// other query parameter is refused. `timeout` bounds every call (see the type's summary).
    /// Throws `.configInvalid` for a malformed URL (the message never repeats the URL: it may
    /// hold a password). Call ``migrate()`` before use (``ReleaseStores/open(_:)`` does).
    public init(url: String, timeout: Duration = .seconds(5)) throws(KeyReleaseError) {
        var configuration = try Self.parse(url)
        configuration.options.connectTimeout = timeout
        self.configuration = configuration
        self.timeout = timeout
    }

    deinit {
        state.withLock { $0.runner?.cancel() }
    }

    /// Applies pending migrations under an advisory lock; see ``ReleaseStore/migrate()``.
    @discardableResult
    public func migrate() async throws(KeyReleaseError) -> Int {
        let now = Date()
        return try await withSession { session throws(KeyReleaseError) in try await session.migrate(now: now) }
    }

    /// The schema version in force; see ``ReleaseStore/schemaVersion()``.
    public func schemaVersion() async throws(KeyReleaseError) -> Int {
        try await withSession { session throws(KeyReleaseError) in try await session.schemaVersion() }
    }

    /// Runs `SELECT 1` on a pooled connection.
    public func ping() async throws(KeyReleaseError) {
        try await withSession { session throws(KeyReleaseError) in try await session.ping() }
    }

    /// Records an issued nonce; see ``ReleaseStore/insertNonce(_:)``.
    public func insertNonce(_ nonce: IssuedNonce) async throws(KeyReleaseError) {
        try await withSession { session throws(KeyReleaseError) in try await session.insertNonce(nonce) }
    }

    /// Consumes a nonce with one `UPDATE … RETURNING`; see ``ReleaseStore/consumeNonce(_:now:)``.
    public func consumeNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceConsumption {
        try await withSession { session throws(KeyReleaseError) in try await session.consumeNonce(nonce, now: now) }
    }

    /// Reads a nonce's state; see ``ReleaseStore/lookUpNonce(_:now:)``.
    public func lookUpNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceState {
        try await withSession { session throws(KeyReleaseError) in try await session.lookUpNonce(nonce, now: now) }
    }

    /// Consumes a nonce and appends a record in one transaction under `pg_advisory_xact_lock`;
    /// see ``ReleaseStore/consumeNonce(_:now:appending:)``.
    public func consumeNonce(_ nonce: [UInt8], now: Date, appending draft: AuditDraft) async throws(KeyReleaseError) -> NonceSpend {
        try await withSession { session throws(KeyReleaseError) in try await session.consumeNonce(nonce, now: now, appending: draft) }
    }

    /// Stores or replaces an escrow entry; see ``ReleaseStore/putEscrow(_:)``.
    public func putEscrow(_ entry: EscrowEntry) async throws(KeyReleaseError) {
        try await withSession { session throws(KeyReleaseError) in try await session.putEscrow(entry) }
    }

    /// Deletes expired nonces; see ``ReleaseStore/purgeNonces(expiredBefore:)``.
    @discardableResult
    public func purgeNonces(expiredBefore cutoff: Date) async throws(KeyReleaseError) -> Int {
        try await withSession { session throws(KeyReleaseError) in try await session.purgeNonces(expiredBefore: cutoff) }
    }

    /// The escrow entry for a dataset root; see ``ReleaseStore/escrow(datasetRoot:)``.
    public func escrow(datasetRoot: [UInt8]) async throws(KeyReleaseError) -> EscrowEntry? {
        try await withSession { session throws(KeyReleaseError) in try await session.escrow(datasetRoot: datasetRoot) }
    }

    /// Appends to the audit chain under `pg_advisory_xact_lock`; see ``ReleaseStore/appendAudit(_:)``.
    public func appendAudit(_ draft: AuditDraft) async throws(KeyReleaseError) -> AuditRecord {
        let now = Date()
        return try await withSession { session throws(KeyReleaseError) in try await session.appendAudit(draft, now: now) }
    }

    /// The audit record with this hash; see ``ReleaseStore/auditRecord(hash:)``.
    public func auditRecord(hash: [UInt8]) async throws(KeyReleaseError) -> AuditRecord? {
        try await withSession { session throws(KeyReleaseError) in try await session.auditRecord(hash: hash) }
    }

    /// A page of the audit chain; see ``ReleaseStore/auditRecords(afterSequence:limit:)``.
    public func auditRecords(afterSequence: Int64, limit: Int) async throws(KeyReleaseError) -> [AuditRecord] {
        try await withSession { session throws(KeyReleaseError) in try await session.auditRecords(afterSequence: afterSequence, limit: limit) }
    }

    /// Shuts the pool down and waits for its connections to close. Later calls throw `.storeUnavailable`.
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

    /// Leases a connection for `body`, bounded by `timeout` as a whole.
    private func withSession<T: Sendable>(
        _ body: @escaping @Sendable (PostgresSession) async throws(KeyReleaseError) -> T
    ) async throws(KeyReleaseError) -> T {
        let client = try currentClient()
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
                                        try await body(PostgresSession(connection: connection))
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
        } catch let error as KeyReleaseError {
            throw error
        } catch is TimedOut {
            // No connection for the whole timeout, and none for anyone else meanwhile: the pool
            // is stuck (server down), not merely busy.
            if !leased.isSet { retire(client, unlessLeasedSince: started) }
            throw KeyReleaseError(.storeUnavailable, "PostgreSQL did not answer within \(timeout)")
        } catch {
            // The caller gave up: nothing wrong with the pool.
            if error is CancellationError || Task.isCancelled { throw KeyReleaseError(.storeUnavailable, "PostgreSQL call cancelled") }
            // Failing to get a connection at all (circuit breaker open, pool shut down).
            retire(client)
            throw Self.unavailable(error)
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
    private func currentClient() throws(KeyReleaseError) -> PostgresClient {
        let result = state.withLock { state -> PostgresClient? in
            guard !state.closed else { return nil }
            if let client = state.client { return client }
            let client = PostgresClient(configuration: configuration)
            state.client = client
            state.runner = Task { await client.run() }
            return client
        }
        guard let result else { throw KeyReleaseError(.storeUnavailable, "the PostgreSQL store is closed") }
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
    static func unavailable(_ error: any Error) -> KeyReleaseError {
        var text: String
        if let error = error as? PSQLError {
            text = "PostgreSQL \(error.code)"
            if let state = error.serverInfo?[.sqlState] { text += " \(state)" }
            if let message = error.serverInfo?[.message] { text += ": \(message)" }
            if let underlying = error.underlying { text += " (\(type(of: underlying)): \(underlying))" }
        } else {
            text = "PostgreSQL: \(type(of: error)): \(error)"
        }
        return KeyReleaseError(.storeUnavailable, text)
    }

    // MARK: URL

    static func parse(_ url: String) throws(KeyReleaseError) -> PostgresClient.Configuration {
        func invalid(_ why: String) -> KeyReleaseError {
            KeyReleaseError(.configInvalid, "PostgreSQL store URL: \(why); expected postgres://user[:password]@host[:port]/database[?sslmode=disable|prefer|require]")
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

/// A leased PostgreSQL connection as a ``StoreSession``.
struct PostgresSession: StoreSession {
    let connection: PostgresConnection

    var dialect: StoreDialect { .postgres }

    @discardableResult
    func query(_ sql: String, _ binds: [StoreValue]) async throws(KeyReleaseError) -> [StoreRow] {
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
            throw KeyReleaseError(.storeUnavailable, "PostgreSQL connection closed")
        } catch {
            throw PostgresReleaseStore.unavailable(error)
        }
        var rows: [StoreRow] = []
        rows.reserveCapacity(result.rows.count)
        for row in result.rows {
            var values: [StoreValue] = []
            for cell in row {
                values.append(try Self.value(cell))
            }
            rows.append(StoreRow(values: values))
        }
        return rows
    }

    private struct ConnectionClosed: Error {}

    func invalidate() async {
        _ = connection.close() as EventLoopFuture<Void>
    }

    private static func value(_ cell: PostgresCell) throws(KeyReleaseError) -> StoreValue {
        guard cell.bytes != nil else { return .null }
        do {
            switch cell.dataType {
            case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
            case .bytea: return .bytes(Array(try cell.decode(ByteBuffer.self).readableBytesView))
            case .void: return .null
            default: break
            }
        } catch {}
        throw KeyReleaseError(.storeCorrupt, "stored \(cell.columnName) has an unexpected type")
    }

    private static let silent = Logger(label: "keyrelease.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })
}
