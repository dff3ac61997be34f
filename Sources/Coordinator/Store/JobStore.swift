import EVMCrypto
import Foundation
import SQLStore

/// The coordinator's store: one row per job it has seen, and the chain-log cursor, in SQLite
/// (the embedded default) or PostgreSQL (several coordinators sharing it). The SQL is written
/// once for both dialects.
///
/// Coordinators share work through leases: ``lease(owner:now:duration:states:limit:)`` takes due
/// jobs that no live lease holds (PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED`, so two
/// coordinators never take the same row; SQLite: one writer at a time), and every change is
/// written only while the writer's lease is unexpired (``update(_:owner:now:_:)``), so a
/// coordinator that stalled past its lease cannot overwrite its successor's work. A dead
/// coordinator's jobs are taken over when its leases expire. Nothing secret is stored: the
/// coordinator never holds a data key.
public final class JobStore: Sendable {
    typealias Session = SQLSession<CoordinatorError>
    private let database: SQLDatabase

    /// Opens the store `url` names (`sqlite:PATH` or `postgres://…`, as the key-release store)
    /// and applies pending migrations. `.configInvalid` for a malformed URL or a schema newer
    /// than this build; `.storeUnavailable` when it does not open.
    public static func open(_ url: String, timeout: Duration = .seconds(5)) async throws(CoordinatorError) -> JobStore {
        let database: SQLDatabase
        do { database = try await SQLDatabase.open(url, timeout: timeout) } catch { throw CoordinatorError(store: error) }
        let store = JobStore(database: database)
        do {
            try await store.migrate()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Opens an existing store for operator tools, never creating or migrating one: a
    /// `sqlite:PATH` that does not exist, or a database no coordinator ever opened, is
    /// `.storeUnavailable` (a mistyped path must not read as an empty store). `readOnly` opens an
    /// SQLite file read-only (listing); PostgreSQL is opened as usual.
    public static func openExisting(_ url: String, readOnly: Bool, timeout: Duration = .seconds(5)) async throws(CoordinatorError) -> JobStore {
        let location: SQLDatabase.Location
        do { location = try SQLDatabase.Location(url) } catch { throw CoordinatorError(store: error) }
        if case .sqlite(let path) = location {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else {
                throw CoordinatorError(.storeUnavailable, "no coordinator store at \(path)")
            }
        }
        let database: SQLDatabase
        do { database = try await SQLDatabase.open(url, access: readOnly ? .readOnly : .readWrite, timeout: timeout) } catch { throw CoordinatorError(store: error) }
        let store = JobStore(database: database)
        do {
            _ = try await store.session { s throws(CoordinatorError) in try await s.requireSchema(JobStoreSchema.schema, in: location.displayName) }
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    init(database: SQLDatabase) { self.database = database }

    /// Applies pending migrations; returns the schema version in force.
    @discardableResult
    public func migrate() async throws(CoordinatorError) -> Int {
        let now = Date()
        return try await session { s throws(CoordinatorError) in try await s.migrate(JobStoreSchema.schema, now: now) }
    }

    /// A cheap round trip (`/readyz`).
    public func ping() async throws(CoordinatorError) {
        try await session { s throws(CoordinatorError) in try await s.query("SELECT 1", []) }
    }

    /// Closes the store; later calls fail with `.storeUnavailable`.
    public func close() async { await database.close() }

    // MARK: Jobs

    /// Records a job found Granted (confirmed on chain), due now. Returns false when the store
    /// already knows it (whatever its state: a job is never dispatched twice because a source
    /// listed it twice).
    @discardableResult
    public func recordDiscovered(_ job: GrantedJob, now: Date) async throws(CoordinatorError) -> Bool {
        let t = try Self.millis(now)
        return try await session { s throws(CoordinatorError) in
            !(try await s.query(
                """
                INSERT INTO jobs (job_id, dataset_root, requested_epochs, state, next_at, progress_at, created_at, updated_at)
                VALUES ($1, $2, $3, $4, $5, $5, $5, $5) ON CONFLICT (job_id) DO NOTHING RETURNING job_id
                """,
                [.bytes(job.jobID), .bytes(job.datasetRoot), .integer(Int64(job.requestedEpochs)), .integer(JobRecord.State.discovered.rawValue), .integer(t)]
            ).isEmpty)
        }
    }

    /// Takes a lease until `now + duration` on up to `limit` jobs in `states` that are due
    /// (`nextAt ≤ now`) and not leased by another live owner (a lease `owner` already holds is
    /// renewed), most overdue first. Two coordinators calling at once never get the same job.
    public func lease(owner: String, now: Date, duration: TimeInterval, states: [JobRecord.State], limit: Int) async throws(CoordinatorError) -> [JobRecord] {
        guard limit > 0, !states.isEmpty else { return [] }
        let t = try Self.millis(now)
        let until = try Self.millis(now + duration)
        // States are this build's integers, never input: safe to inline.
        let stateList = states.map { String($0.rawValue) }.joined(separator: ", ")
        return try await session { s throws(CoordinatorError) in
            let skipLocked = s.dialect == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
            let rows = try await s.query(
                """
                UPDATE jobs SET lease_owner = $1, lease_until = $2
                WHERE job_id IN (
                    SELECT job_id FROM jobs
                    WHERE state IN (\(stateList)) AND next_at <= $3 AND (lease_until IS NULL OR lease_until < $3 OR lease_owner = $1)
                    ORDER BY next_at LIMIT $4\(skipLocked))
                RETURNING \(Self.columns)
                """,
                [.bytes(Array(owner.utf8)), .integer(until), .integer(t), .integer(Int64(limit))])
            return try rows.map { row throws(CoordinatorError) in try Self.record(row) }.sorted { $0.nextAt < $1.nextAt }
        }
    }

    /// Applies `change` to the job if `owner` still holds its lease at `now`; returns the
    /// updated record, or nil when the lease was lost (expired and taken, or released): the
    /// caller must then stop acting on the job.
    @discardableResult
    public func update(_ jobID: [UInt8], owner: String, now: Date, _ change: JobChange) async throws(CoordinatorError) -> JobRecord? {
        let t = try Self.millis(now)
        var sets = ["updated_at = $3"]
        var binds: [StoreValue] = [.bytes(jobID), .bytes(Array(owner.utf8)), .integer(t)]
        func set(_ column: String, _ value: StoreValue) {
            binds.append(value)
            sets.append("\(column) = $\(binds.count)")
        }
        if let v = change.state { set("state", .integer(v.rawValue)) }
        if let v = change.providerURL { set("provider_url", .bytes(Array(v.utf8))) }
        if let v = change.nodeSigner { set("node_signer", .bytes(v.bytes)) }
        if let v = change.taskID { set("task_id", .bytes(Array(v.utf8))) }
        if change.countDispatchAttempt { sets.append("dispatch_attempts = dispatch_attempts + 1") }
        if let v = change.taskStatus { set("task_status", .bytes(Array(v.rawValue.utf8))) }
        if let v = change.settlement {
            set("settlement_kind", .integer(v.storedKind))
            set("settlement_body", .bytes(try Self.encode(v)))
        }
        if let v = change.settlementTransaction {
            set("settlement_tx", .bytes(v))
            sets.append("settlement_attempts = settlement_attempts + 1")
        }
        if let v = change.reason { set("reason", .bytes(Array(v.utf8))) }
        if let v = change.nextAt { set("next_at", .integer(try Self.millis(v))) }
        if change.progressed { sets.append("progress_at = $3") }
        let sql = "UPDATE jobs SET \(sets.joined(separator: ", ")) WHERE job_id = $1 AND lease_owner = $2 AND lease_until >= $3 RETURNING \(Self.columns)"
        let frozen = binds
        return try await session { s throws(CoordinatorError) in
            try await s.query(sql, frozen).first.map { row throws(CoordinatorError) in try Self.record(row) }
        }
    }

    /// Gives the job's lease up (after acting on it), so another coordinator may take it when it
    /// is next due.
    public func release(_ jobID: [UInt8], owner: String) async throws(CoordinatorError) {
        try await session { s throws(CoordinatorError) in
            try await s.query("UPDATE jobs SET lease_owner = NULL, lease_until = NULL WHERE job_id = $1 AND lease_owner = $2", [.bytes(jobID), .bytes(Array(owner.utf8))])
        }
    }

    /// The job, or nil.
    public func job(_ jobID: [UInt8]) async throws(CoordinatorError) -> JobRecord? {
        try await session { s throws(CoordinatorError) in
            try await s.query("SELECT \(Self.columns) FROM jobs WHERE job_id = $1", [.bytes(jobID)]).first.map { row throws(CoordinatorError) in try Self.record(row) }
        }
    }

    /// Every job, oldest first, `limit` at most.
    public func jobs(limit: Int = 10_000) async throws(CoordinatorError) -> [JobRecord] {
        guard limit > 0 else { return [] }
        return try await session { s throws(CoordinatorError) in
            try await s.query("SELECT \(Self.columns) FROM jobs ORDER BY created_at, job_id LIMIT $1", [.integer(Int64(limit))]).map { row throws(CoordinatorError) in try Self.record(row) }
        }
    }

    /// How many jobs are in each state (states without jobs are absent).
    public func counts() async throws(CoordinatorError) -> [JobRecord.State: Int] {
        try await session { s throws(CoordinatorError) in
            var out: [JobRecord.State: Int] = [:]
            for row in try await s.query("SELECT state, count(*) FROM jobs GROUP BY state", []) {
                guard let state = JobRecord.State(rawValue: try row.integer(0, "jobs.state")) else { throw CoordinatorError(.storeCorrupt, "stored jobs.state is unknown") }
                out[state] = Int(try row.integer(1, "count"))
            }
            return out
        }
    }

    /// Which jobs an operator's override may change (checked in the same statement that changes
    /// the row, so a coordinator acting on the job in between cannot be overwritten).
    public enum OverrideCondition: Sendable, Hashable {
        /// Any job.
        case any
        /// A job that is not terminal and has no settlement transaction sent.
        case noSettlementSent
        /// A job that is not terminal and has no settlement intent.
        case noSettlementIntent
    }

    /// An operator's override, applied whoever holds the lease (it is cleared): `state` with
    /// `reason`, due now, if the job meets `condition`. Returns the record, or nil when the job is
    /// unknown or does not meet `condition`. `resetDispatchAttempts` starts a new dispatch budget.
    @discardableResult
    public func override(
        _ jobID: [UInt8], state: JobRecord.State, settlement: JobRecord.Settlement?, reason: String?, now: Date, condition: OverrideCondition = .any,
        resetDispatchAttempts: Bool = false
    ) async throws(CoordinatorError) -> JobRecord? {
        let t = try Self.millis(now)
        let body: StoreValue = try settlement.map { v throws(CoordinatorError) in .bytes(try Self.encode(v)) } ?? .null
        let kind: StoreValue = settlement.map { .integer($0.storedKind) } ?? .null
        // States are this build's integers, never input: safe to inline.
        let terminal = "\(JobRecord.State.completed.rawValue), \(JobRecord.State.failed.rawValue)"
        let guardSQL: String
        switch condition {
        case .any: guardSQL = ""
        case .noSettlementSent: guardSQL = " AND state NOT IN (\(terminal)) AND settlement_tx IS NULL"
        case .noSettlementIntent: guardSQL = " AND state NOT IN (\(terminal)) AND settlement_body IS NULL"
        }
        let reset = resetDispatchAttempts ? ", dispatch_attempts = 0" : ""
        return try await session { s throws(CoordinatorError) in
            try await s.query(
                """
                UPDATE jobs SET state = $2, settlement_kind = $3, settlement_body = $4, settlement_tx = NULL, reason = $5,
                    lease_owner = NULL, lease_until = NULL, next_at = $6, progress_at = $6, updated_at = $6\(reset)
                WHERE job_id = $1\(guardSQL) RETURNING \(Self.columns)
                """,
                [.bytes(jobID), .integer(state.rawValue), kind, body, reason.map { .bytes(Array($0.utf8)) } ?? .null, .integer(t)]
            ).first.map { row throws(CoordinatorError) in try Self.record(row) }
        }
    }

    // MARK: Cursors

    /// The last block a named log reader finished, or nil.
    public func cursor(_ name: String) async throws(CoordinatorError) -> UInt64? {
        try await session { s throws(CoordinatorError) in
            try await s.query("SELECT block FROM cursors WHERE name = $1", [.bytes(Array(name.utf8))]).first.map { row throws(CoordinatorError) in UInt64(max(0, try row.integer(0, "cursors.block"))) }
        }
    }

    /// Records that the named log reader finished `block`; never moves a cursor back.
    public func advanceCursor(_ name: String, to block: UInt64, now: Date) async throws(CoordinatorError) {
        let t = try Self.millis(now)
        try await session { s throws(CoordinatorError) in
            try await s.query(
                """
                INSERT INTO cursors (name, block, updated_at) VALUES ($1, $2, $3)
                ON CONFLICT (name) DO UPDATE SET block = excluded.block, updated_at = excluded.updated_at WHERE cursors.block < excluded.block
                """,
                [.bytes(Array(name.utf8)), .integer(Int64(clamping: block)), .integer(t)])
        }
    }

    // MARK: Rows

    @discardableResult
    private func session<T: Sendable>(_ body: @escaping @Sendable (Session) async throws(CoordinatorError) -> T) async throws(CoordinatorError) -> T {
        try await database.withSession(body)
    }

    static let columns =
        "job_id, dataset_root, requested_epochs, state, provider_url, node_signer, task_id, dispatch_attempts, task_status, settlement_body, settlement_tx, settlement_attempts, reason, next_at, progress_at, created_at, updated_at"

    static func record(_ row: SQLRow<CoordinatorError>) throws(CoordinatorError) -> JobRecord {
        guard let state = JobRecord.State(rawValue: try row.integer(3, "jobs.state")) else { throw CoordinatorError(.storeCorrupt, "stored jobs.state is unknown") }
        let signer: Address? = try row.optionalBytes(5, "jobs.node_signer").map { b throws(CoordinatorError) in
            do { return try Address(bytes: b) } catch { throw CoordinatorError(.storeCorrupt, "stored jobs.node_signer is not an address") }
        }
        let status: TaskStatus? = try row.optionalBytes(8, "jobs.task_status").map { b throws(CoordinatorError) in
            guard let s = TaskStatus(rawValue: String(decoding: b, as: UTF8.self)) else { throw CoordinatorError(.storeCorrupt, "stored jobs.task_status is unknown") }
            return s
        }
        let settlement: JobRecord.Settlement? = try row.optionalBytes(9, "jobs.settlement_body").map { b throws(CoordinatorError) in
            do { return try JSONDecoder().decode(JobRecord.Settlement.self, from: Data(b)) } catch { throw CoordinatorError(.storeCorrupt, "stored jobs.settlement_body does not decode") }
        }
        let epochs = try row.integer(2, "jobs.requested_epochs")
        guard let requested = UInt32(exactly: epochs) else { throw CoordinatorError(.storeCorrupt, "stored jobs.requested_epochs is out of range") }
        return JobRecord(
            jobID: try row.bytes(0, "jobs.job_id"), datasetRoot: try row.bytes(1, "jobs.dataset_root"), requestedEpochs: requested, state: state,
            providerURL: try row.optionalBytes(4, "jobs.provider_url").map { String(decoding: $0, as: UTF8.self) }, nodeSigner: signer,
            taskID: try row.optionalBytes(6, "jobs.task_id").map { String(decoding: $0, as: UTF8.self) },
            dispatchAttempts: Int(try row.integer(7, "jobs.dispatch_attempts")), taskStatus: status, settlement: settlement,
            settlementTransaction: try row.optionalBytes(10, "jobs.settlement_tx"), settlementAttempts: Int(try row.integer(11, "jobs.settlement_attempts")),
            reason: try row.optionalBytes(12, "jobs.reason").map { String(decoding: $0, as: UTF8.self) },
            nextAt: try row.date(13, "jobs.next_at"), progressAt: try row.date(14, "jobs.progress_at"), createdAt: try row.date(15, "jobs.created_at"),
            updatedAt: try row.date(16, "jobs.updated_at"))
    }

    private static func encode(_ settlement: JobRecord.Settlement) throws(CoordinatorError) -> [UInt8] {
        do { return Array(try JSONEncoder().encode(settlement)) } catch { throw CoordinatorError(.internalError, "a settlement does not encode") }
    }

    private static func millis(_ date: Date) throws(CoordinatorError) -> Int64 {
        do { return try StoreTime.millis(date) } catch { throw CoordinatorError(store: error) }
    }
}
