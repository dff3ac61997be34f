import Foundation
import SQLStore

/// The ``ReleaseStore`` operations, written once over a ``StoreSession``; each backend only
/// provides sessions. Statements are plain SQL both dialects accept (`ON CONFLICT`, `RETURNING`).
extension StoreSession {
    func ping() async throws(KeyReleaseError) {
        try await query("SELECT 1", [])
    }

    /// Refuses a nonce already recorded (with `.internalError`) rather than overwriting it: 32
    /// random bytes never repeat unless the random source is broken.
    func insertNonce(_ nonce: IssuedNonce) async throws(KeyReleaseError) {
        let inserted = try await query(
            "INSERT INTO nonces (nonce, issued_at, expires_at, used_at) VALUES ($1, $2, $3, NULL) ON CONFLICT (nonce) DO NOTHING RETURNING nonce",
            [.bytes(nonce.nonce), .integer(try Self.millis(nonce.issuedAt)), .integer(try Self.millis(nonce.expiresAt))])
        guard !inserted.isEmpty else { throw KeyReleaseError(.internalError, "a nonce was issued twice") }
    }

    /// What the nonce's row says at `now`; changes nothing.
    func lookUpNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceState {
        let rows = try await query("SELECT issued_at, used_at, expires_at FROM nonces WHERE nonce = $1", [.bytes(nonce)])
        guard let row = rows.first else { return .unknown }
        if try row.optionalInteger(1, "nonces.used_at") != nil { return .used }
        if try row.integer(2, "nonces.expires_at") <= (try Self.millis(now)) { return .expired }
        return .usable(issuedAt: try row.date(0, "nonces.issued_at"))
    }

    /// One atomic UPDATE decides who consumes the nonce (the database serializes concurrent
    /// updates of the row, across connections and replicas); only a caller that lost is told why
    /// by a second, read-only look at the row.
    func consumeNonce(_ nonce: [UInt8], now: Date) async throws(KeyReleaseError) -> NonceConsumption {
        let consumed = try await query(
            "UPDATE nonces SET used_at = $1 WHERE nonce = $2 AND used_at IS NULL AND expires_at > $1 RETURNING issued_at",
            [.integer(try Self.millis(now)), .bytes(nonce)])
        if let row = consumed.first { return .consumed(issuedAt: try row.date(0, "nonces.issued_at")) }
        switch try await lookUpNonce(nonce, now: now) {
        case .unknown: return .unknown
        case .expired: return .expired
        // `.usable` although the UPDATE missed it is not reachable with a consistent database:
        // refuse (fail closed) rather than release on a nonce nobody consumed.
        case .used, .usable: return .alreadyUsed
        }
    }

    /// Consumes the nonce and, only if this caller consumed it, appends `draft`, in one
    /// transaction under the audit-head lock: both happen or neither does.
    func consumeNonce(_ nonce: [UInt8], now: Date, appending draft: AuditDraft) async throws(KeyReleaseError) -> NonceSpend {
        let createdAt = try Self.millis(now)
        return try await exclusiveTransaction(.auditHead) { session throws(KeyReleaseError) in
            let consumption = try await session.consumeNonce(nonce, now: now)
            guard case .consumed = consumption else { return NonceSpend(consumption: consumption, record: nil) }
            return NonceSpend(consumption: consumption, record: try await session.chainAudit(draft, createdAt: createdAt))
        }
    }

    /// Inserts, or replaces only an entry of a lower version, in one statement (the database
    /// decides between concurrent uploads); anything else is `.escrowStale` and changes nothing.
    func putEscrow(_ entry: EscrowEntry) async throws(KeyReleaseError) {
        guard entry.version >= 1, entry.version <= UInt64(Int64.max) else { throw KeyReleaseError(.badRequest, "escrow version must be 1…2^63−1") }
        let stored = try await query(
            """
            INSERT INTO escrow (dataset_root, envelope, owner, signature, stored_at, version) VALUES ($1, $2, $3, $4, $5, $6)
            ON CONFLICT (dataset_root) DO UPDATE SET envelope = excluded.envelope, owner = excluded.owner,
                signature = excluded.signature, stored_at = excluded.stored_at, version = excluded.version
            WHERE escrow.version < excluded.version
            RETURNING dataset_root
            """,
            [
                .bytes(entry.datasetRoot), .bytes(entry.envelope), .bytes(entry.owner), .bytes(entry.signature),
                .integer(try Self.millis(entry.storedAt)), .integer(Int64(entry.version)),
            ])
        guard !stored.isEmpty else {
            throw KeyReleaseError(.escrowStale, "an envelope of version \(entry.version) or newer is already escrowed for this dataset")
        }
    }

    func escrow(datasetRoot: [UInt8]) async throws(KeyReleaseError) -> EscrowEntry? {
        let rows = try await query(
            "SELECT dataset_root, envelope, owner, signature, stored_at, version FROM escrow WHERE dataset_root = $1", [.bytes(datasetRoot)])
        guard let row = rows.first else { return nil }
        return EscrowEntry(
            datasetRoot: try row.bytes(0, "escrow.dataset_root"), envelope: try row.bytes(1, "escrow.envelope"),
            owner: try row.bytes(2, "escrow.owner"), signature: try row.bytes(3, "escrow.signature"),
            storedAt: try row.date(4, "escrow.stored_at"), version: UInt64(max(0, try row.integer(5, "escrow.version"))))
    }

    /// Deletes nonces that expired before `cutoff` (used or not: an expired nonce decides
    /// nothing, and a replay of a deleted one is refused as unknown). Returns how many.
    func purgeNonces(expiredBefore cutoff: Date) async throws(KeyReleaseError) -> Int {
        try await query("DELETE FROM nonces WHERE expires_at < $1 RETURNING nonce", [.integer(try Self.millis(cutoff))]).count
    }

    /// Reads the head, chains the draft after it and inserts it, holding the audit-head lock for
    /// the whole transaction. The sequence primary key and unique hash would refuse a fork even
    /// without the lock; the lock makes concurrent appends wait instead of fail.
    func appendAudit(_ draft: AuditDraft, now: Date) async throws(KeyReleaseError) -> AuditRecord {
        let createdAt = try Self.millis(now)
        return try await exclusiveTransaction(.auditHead) { session throws(KeyReleaseError) in
            try await session.chainAudit(draft, createdAt: createdAt)
        }
    }

    /// Inside a transaction holding the audit-head lock: chains `draft` after the head and inserts it.
    private func chainAudit(_ draft: AuditDraft, createdAt: Int64) async throws(KeyReleaseError) -> AuditRecord {
        let head = try await query("SELECT sequence, hash FROM audit ORDER BY sequence DESC LIMIT 1", []).first
        let sequence = try (head?.integer(0, "audit.sequence") ?? 0) + 1
        let previousHash = try head.map { row throws(KeyReleaseError) in try Self.hash(row, 1, "audit.hash") } ?? AuditRecord.genesis
        let record = try AuditRecord(sequence: sequence, previousHash: previousHash, draft: draft)
        try await query(
            "INSERT INTO audit (sequence, previous_hash, hash, body, created_at) VALUES ($1, $2, $3, $4, $5)",
            [.integer(record.sequence), .bytes(record.previousHash), .bytes(record.hash), .bytes(record.body), .integer(createdAt)])
        return record
    }

    /// Only rows numbered 1 or more are records: a row planted outside the chain's numbering
    /// (which no chain walk reaches) is never served as one.
    func auditRecord(hash: [UInt8]) async throws(KeyReleaseError) -> AuditRecord? {
        let rows = try await query("SELECT sequence, previous_hash, hash, body FROM audit WHERE hash = $1 AND sequence >= 1", [.bytes(hash)])
        return try rows.first.map { row throws(KeyReleaseError) in try Self.auditRecord(row) }
    }

    /// A non-positive `limit` returns nothing (SQLite would read `LIMIT -1` as "no limit").
    func auditRecords(afterSequence: Int64, limit: Int) async throws(KeyReleaseError) -> [AuditRecord] {
        guard limit > 0 else { return [] }
        let rows = try await query(
            "SELECT sequence, previous_hash, hash, body FROM audit WHERE sequence > $1 ORDER BY sequence LIMIT $2",
            [.integer(afterSequence), .integer(Int64(limit))])
        var records: [AuditRecord] = []
        records.reserveCapacity(rows.count)
        for row in rows { records.append(try Self.auditRecord(row)) }
        return records
    }

    /// A stored audit row: (sequence, previous_hash, hash, body). The hash is taken as stored
    /// (``AuditRecord/hashIsConsistent`` checks it); wrong-sized hashes and undecodable bodies
    /// are `.storeCorrupt`.
    private static func auditRecord(_ row: StoreRow) throws(KeyReleaseError) -> AuditRecord {
        try AuditRecord(
            sequence: try row.integer(0, "audit.sequence"), previousHash: try hash(row, 1, "audit.previous_hash"),
            hash: try hash(row, 2, "audit.hash"), body: try row.bytes(3, "audit.body"))
    }

    private static func hash(_ row: StoreRow, _ index: Int, _ column: String) throws(KeyReleaseError) -> [UInt8] {
        let bytes = try row.bytes(index, column)
        guard bytes.count == AuditRecord.genesis.count else { throw KeyReleaseError(.storeCorrupt, "stored \(column) is not 32 bytes") }
        return bytes
    }
}
